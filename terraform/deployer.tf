# The identity the deploy workflows use, managed here when github_repository
# is set (otherwise docs/deploy.md creates the same with gcloud): a Workload
# Identity pool and an OIDC provider that trust only GitHub Actions tokens of
# that repository, by its numeric ID and its owner's (a name can be claimed
# again by someone else once the repository is deleted or renamed), and the deployer service account that the repository's
# jobs in the github_environment environment may impersonate. No JSON key.
#
# The deployer's grants are as narrow as the deploys allow:
#   - push images to this registry only (artifactregistry.writer on it);
#   - OS Login with sudo on the turnstile VMs only (compute.osAdminLogin on
#     each instance, not on the project), through IAP TCP forwarding on each
#     instance (iap.tunnelResourceAccessor);
#   - act as the VMs' service accounts (iam.serviceAccountUser on each), which
#     SSH to a VM that runs as a service account requires;
#   - compute.viewer on the project: gcloud compute ssh reads the instance and
#     the project's metadata (read-only).

locals {
  manage_deployer   = var.github_repository != null
  deployer_member   = local.manage_deployer ? "serviceAccount:${google_service_account.deployer[0].account_id}@${var.project_id}.iam.gserviceaccount.com" : null
  deployer_subject  = "repo:${coalesce(var.github_repository, "-")}:environment:${var.github_environment}"
  deployer_vm_names = local.manage_deployer ? { for k, vm in local.vms : k => vm.name } : {}

  # The IDs are required with github_repository (variables.tf); the name
  # check stays as a readable second guard.
  deployer_condition = join(" && ", [
    "assertion.repository_id == '${coalesce(var.github_repository_id, "-")}'",
    "assertion.repository_owner_id == '${coalesce(var.github_repository_owner_id, "-")}'",
    "assertion.repository == '${coalesce(var.github_repository, "-")}'",
  ])
}

resource "google_iam_workload_identity_pool" "github" {
  count = local.manage_deployer ? 1 : 0

  workload_identity_pool_id = "${var.name_prefix}-github"
  display_name              = "GitHub Actions"
  description               = "GitHub Actions OIDC tokens of ${coalesce(var.github_repository, "-")}."

  depends_on = [google_project_service.this]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  count = local.manage_deployer ? 1 : 0

  workload_identity_pool_id          = google_iam_workload_identity_pool.github[0].workload_identity_pool_id
  workload_identity_pool_provider_id = "github-oidc"
  display_name                       = "GitHub OIDC"
  description                        = "Accepts only tokens of ${coalesce(var.github_repository, "-")} (repository ID ${coalesce(var.github_repository_id, "-")})."

  attribute_mapping = {
    "google.subject"                = "assertion.sub"
    "attribute.repository"          = "assertion.repository"
    "attribute.repository_id"       = "assertion.repository_id"
    "attribute.repository_owner_id" = "assertion.repository_owner_id"
    "attribute.ref"                 = "assertion.ref"
    "attribute.environment"         = "assertion.environment"
  }
  attribute_condition = local.deployer_condition

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  count = local.manage_deployer ? 1 : 0

  account_id   = "${var.name_prefix}-deployer"
  display_name = "turnstile-stream GitHub deployer"
  description  = "Impersonated by the deploy workflows of ${coalesce(var.github_repository, "-")} (environment ${var.github_environment})."

  depends_on = [google_project_service.this]
}

# Only jobs of the repository that run in the environment get the deployer.
resource "google_service_account_iam_member" "deployer_wif" {
  count = local.manage_deployer ? 1 : 0

  service_account_id = google_service_account.deployer[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github[0].name}/subject/${local.deployer_subject}"
}

resource "google_artifact_registry_repository_iam_member" "deployer_writer" {
  count = local.manage_deployer ? 1 : 0

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.apps.repository_id
  role       = "roles/artifactregistry.writer"
  member     = local.deployer_member
}

resource "google_compute_instance_iam_member" "deployer_os_admin" {
  for_each = local.deployer_vm_names

  project       = var.project_id
  zone          = var.zone
  instance_name = google_compute_instance.vm[each.key].name
  role          = "roles/compute.osAdminLogin"
  member        = local.deployer_member
}

resource "google_iap_tunnel_instance_iam_member" "deployer_tunnel" {
  for_each = local.deployer_vm_names

  project  = var.project_id
  zone     = var.zone
  instance = google_compute_instance.vm[each.key].name
  role     = "roles/iap.tunnelResourceAccessor"
  member   = local.deployer_member
}

resource "google_service_account_iam_member" "deployer_act_as_vm" {
  for_each = local.manage_deployer ? toset(local.roles) : toset([])

  service_account_id = google_service_account.vm[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member
}

resource "google_project_iam_member" "deployer_viewer" {
  count = local.manage_deployer ? 1 : 0

  project = var.project_id
  role    = "roles/compute.viewer"
  member  = local.deployer_member
}
