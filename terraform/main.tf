# turnstile-stream on GCP: Kafka (var.kafka_backend, kafka.tf: a Kafka VM with
# its log on its own persistent disk, a managed cluster, or an existing one),
# consumer_count consumer VMs (each also serving the dashboard on its internal
# address) and a producer VM in one zone, a private network reachable only
# through IAP, a data-lake bucket with BigQuery external tables over it, an
# Artifact Registry repository for the app images, and alert policies.

locals {
  # The VM roles. Service accounts, network tags and compose files are per
  # role; the consumer role may have several VMs. The kafka role exists only
  # with the Kafka VM (kafka_backend = vm, or kafka_vm_retained).
  roles = local.kafka_vm ? ["kafka", "consumer", "producer"] : ["consumer", "producer"]

  # Every VM, by key: kafka, producer, consumer, consumer-1, consumer-2, ...
  # The first consumer keeps the key and name it had before consumer_count
  # existed, so raising the count never replaces it.
  consumer_keys = [for i in range(var.consumer_count) : i == 0 ? "consumer" : "consumer-${i}"]
  vms = merge(
    local.kafka_vm ? { kafka = { role = "kafka", name = "${var.name_prefix}-kafka" } } : {},
    { producer = { role = "producer", name = "${var.name_prefix}-producer" } },
    { for k in local.consumer_keys : k => { role = "consumer", name = "${var.name_prefix}-${k}" } },
  )
  consumer_vm_names = [for k in local.consumer_keys : local.vms[k].name]

  vm_tags  = { for r in local.roles : r => "${var.name_prefix}-${r}" }
  app_tags = [local.vm_tags.consumer, local.vm_tags.producer]

  # The compose file (and its profiles, space-separated) that each VM's
  # startup script starts. With the ridership feed, each app VM also starts
  # the ridership app of its role.
  compose = {
    kafka    = { file = "compose.kafka.yaml", profile = "" }
    consumer = { file = "compose.apps.yaml", profile = local.ridership ? "consumer consumer-ridership" : "consumer" }
    producer = { file = "compose.apps.yaml", profile = local.ridership ? "producer producer-ridership" : "producer" }
  }

  bucket_name     = coalesce(var.bucket_name, "${var.project_id}-turnstile-lake")
  bucket_location = upper(coalesce(var.bucket_location, var.region))
  lake_prefix     = "turnstile"
  lake_sink       = "gs://${local.bucket_name}/${local.lake_prefix}${var.lake_layout == "hive" ? "?layout=hive" : ""}"

  # The ridership feed (var.ridership; docs/deploy.md, "The ridership feed"):
  # its own topic, lake prefix (same layout as turnstile/) and, on the
  # producer VM and each consumer VM, a second app beside the turnstile one.
  ridership          = var.ridership != null
  ridership_topic    = "mta-ridership"
  ridership_prefix   = "ridership"
  ridership_sink     = "gs://${local.bucket_name}/${local.ridership_prefix}${var.lake_layout == "hive" ? "?layout=hive" : ""}"
  soda_app_token_id  = "${var.name_prefix}-soda-app-token"
  soda_app_token_ref = "projects/${var.project_id}/secrets/${local.soda_app_token_id}"

  registry_host = "${var.region}-docker.pkg.dev"
  registry      = "${local.registry_host}/${var.project_id}/${var.registry_id}"
  # Docker Hub through the remote repository: dockerhub/apache/kafka:4.1.0.
  dockerhub_mirror = "${local.registry_host}/${var.project_id}/${var.dockerhub_registry_id}"

  # The Kafka VM's listener port; the apps' bootstrap address, whatever the
  # backend, is local.kafka_bootstrap (kafka.tf).
  kafka_port = 9092

  # Google's IAP TCP-forwarding range: the only source allowed to SSH.
  iap_source_range = "35.235.240.0/20"

  services = concat([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "storage.googleapis.com",
    ], local.managed_kafka ? ["managedkafka.googleapis.com"] : [],
    local.kafka_sasl_secret != null || local.ridership ? ["secretmanager.googleapis.com"] : [],
    var.github_repository == null ? [] : [
      # GitHub's OIDC token exchange (deployer.tf).
      "iamcredentials.googleapis.com",
      "sts.googleapis.com",
  ])
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? toset(local.services) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
