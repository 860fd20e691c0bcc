# turnstile-stream on GCP: a Kafka VM, a consumer VM and a producer VM in one
# zone, a private network reachable only through IAP, a data-lake bucket and
# an Artifact Registry repository for the app images.

locals {
  # The three VM roles. Everything per-VM (name, service account, network tag,
  # startup script) is keyed by these.
  roles = ["kafka", "consumer", "producer"]

  vm_names = { for r in local.roles : r => "${var.name_prefix}-${r}" }
  vm_tags  = { for r in local.roles : r => "${var.name_prefix}-${r}" }
  app_tags = [local.vm_tags.consumer, local.vm_tags.producer]

  # The compose file (and its profile) that each VM's startup script starts.
  compose = {
    kafka    = { file = "compose.kafka.yaml", profile = "" }
    consumer = { file = "compose.apps.yaml", profile = "consumer" }
    producer = { file = "compose.apps.yaml", profile = "producer" }
  }

  bucket_name     = coalesce(var.bucket_name, "${var.project_id}-turnstile-lake")
  bucket_location = upper(coalesce(var.bucket_location, var.region))
  lake_sink       = "gs://${local.bucket_name}/turnstile"

  registry_host = "${var.region}-docker.pkg.dev"
  registry      = "${local.registry_host}/${var.project_id}/${var.registry_id}"

  kafka_port      = 9092
  kafka_bootstrap = "${google_compute_address.kafka.address}:${local.kafka_port}"

  # Google's IAP TCP-forwarding range: the only source allowed to SSH.
  iap_source_range = "35.235.240.0/20"

  services = [
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? toset(local.services) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
