# One service account per VM role, each holding only what that role needs
# (docs/deploy.md, "Service accounts and their roles", says why for each):
#   every VM:     logging.logWriter (Docker's gcplogs driver, the Ops Agent's
#                 logs), monitoring.metricWriter (the Ops Agent's metrics);
#                 artifactregistry.reader on the Docker Hub remote repository
#                 (Kafka's apache/kafka, the apps' busybox);
#   app VMs:      artifactregistry.reader on the app image repository;
#   consumer:     the lake-writer role on the lake bucket;
#   producer:     with the ridership feed, secretAccessor on the SODA app
#                 token's secret (ridership.tf) and nothing else there.

resource "google_service_account" "vm" {
  for_each = toset(local.roles)

  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "turnstile-stream ${each.key} VM"
  description  = "Runs the ${each.key} VM: logs, metrics, pulls ${each.key == "kafka" ? "Docker Hub images through the remote repository" : "images"}${each.key == "consumer" ? ", writes lake files" : ""}."

  depends_on = [google_project_service.this]
}

locals {
  # The e-mail of a user-managed service account is always
  # ACCOUNT_ID@PROJECT.iam.gserviceaccount.com. Building the IAM member from
  # account_id (rather than the computed `member` attribute) keeps the
  # dependency on the account while making every grant visible at plan time.
  sa_member = {
    for r, sa in google_service_account.vm : r => "serviceAccount:${sa.account_id}@${var.project_id}.iam.gserviceaccount.com"
  }
  sa_email = { for r, m in local.sa_member : r => trimprefix(m, "serviceAccount:") }

  # The VMs that run apps (and talk to Kafka).
  app_roles            = ["consumer", "producer"]
  app_service_accounts = [for r in local.app_roles : local.sa_email[r]]

  # Every VM writes logs (Docker's gcplogs driver) and metrics.
  project_roles = ["roles/logging.logWriter", "roles/monitoring.metricWriter"]

  project_grants = {
    for pair in setproduct(local.roles, local.project_roles) : "${pair[0]} ${pair[1]}" => {
      role_of_vm = pair[0]
      role       = pair[1]
    }
  }
}

resource "google_project_iam_member" "vm" {
  for_each = local.project_grants

  project = var.project_id
  role    = each.value.role
  member  = local.sa_member[each.value.role_of_vm]
}

# With the ridership feed, the producer reads the SODA app token: this one
# secret, and only the producer's account (ridership.tf). The secret is named
# from its resource, so the grant follows it and is visible at plan time.
resource "google_secret_manager_secret_iam_member" "producer_soda_app_token" {
  count = local.ridership ? 1 : 0

  project   = var.project_id
  secret_id = "projects/${var.project_id}/secrets/${google_secret_manager_secret.soda_app_token[0].secret_id}"
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member["producer"]
}

# The app VMs may pull the app images, and nothing more there. The Kafka VM
# runs no app image, so it gets nothing on this repository.
resource "google_artifact_registry_repository_iam_member" "vm_reader" {
  for_each = toset(local.app_roles)

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.apps.repository_id
  role       = "roles/artifactregistry.reader"
  member     = local.sa_member[each.key]
}

# Every VM pulls its third-party images (apache/kafka, busybox) through the
# Docker Hub remote repository (storage.tf), never from Docker Hub directly.
resource "google_artifact_registry_repository_iam_member" "dockerhub_reader" {
  for_each = toset(local.roles)

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.dockerhub.repository_id
  role       = "roles/artifactregistry.reader"
  member     = local.sa_member[each.key]
}

# What the consumer needs on the lake, and nothing more (docs/lake.md says
# why each):
# - storage.objects.create: write window files and side objects;
# - storage.objects.delete: replace a window file (an upload retried after a
#   lost answer, or a window replayed after a restart, rewrites the same name;
#   GCS needs delete to replace an object);
# - storage.objects.get: read an object back after GCS answers 412 to a
#   create-only write (a side object replayed after a restart, a window of a
#   partition without usable commit metadata, the window-shape marker), and
#   read a window file's epoch and generation before a fenced replace
#   (docs/consumer.md, "Fencing").
# No list, update or IAM permissions. The GCS end-to-end cases (tests/e2e)
# read this list and run the consumer under exactly these permissions.
resource "google_project_iam_custom_role" "lake_writer" {
  count = var.consumer_bucket_role == null ? 1 : 0

  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_lake_writer"
  title       = "turnstile-stream lake writer"
  description = "Create, replace and read back objects; granted on the lake bucket only."
  permissions = ["storage.objects.create", "storage.objects.delete", "storage.objects.get"]

  depends_on = [google_project_service.this]
}

locals {
  consumer_bucket_role = coalesce(
    var.consumer_bucket_role,
    try("projects/${var.project_id}/roles/${google_project_iam_custom_role.lake_writer[0].role_id}", null),
  )
}

# Only the consumer writes to the lake, and only objects in this bucket.
resource "google_storage_bucket_iam_member" "consumer_writer" {
  bucket = google_storage_bucket.lake.name
  role   = local.consumer_bucket_role
  member = local.sa_member["consumer"]
}
