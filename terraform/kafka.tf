# Where the apps' Kafka runs (var.kafka_backend; docs/deploy.md, "Kafka
# backends"):
#   vm        one broker on the Kafka VM (compute.tf, network.tf): the default;
#   managed   Google Cloud Managed Service for Apache Kafka: the cluster and
#             both topics below, reached with SASL_SSL + OAUTHBEARER as the
#             VMs' service accounts (roles/managedkafka.client);
#   external  an existing cluster at var.kafka_bootstrap, with the client
#             settings of the variables and a password that each app VM
#             reads from Secret Manager when its apps start.
# Only vm (or kafka_vm_retained) has a Kafka VM, disk, address, firewall
# rules and topic-init. Every backend hands the apps their settings the same
# way: vm.env (compute.tf) -> client-config -> /config/client.properties.

locals {
  kafka_vm      = var.kafka_backend == "vm" || var.kafka_vm_retained
  managed_kafka = var.kafka_backend == "managed"

  managed_kafka_cluster_id = "${var.name_prefix}-kafka"
  managed_kafka_subnet = coalesce(
    var.managed_kafka_subnet,
    var.create_network ? one(google_compute_subnetwork.this[*].id) : "projects/${var.project_id}/regions/${var.region}/subnetworks/${var.subnetwork}",
  )
  # The bootstrap address as the service documents it (the API's
  # Cluster.bootstrapAddress, whose port is left to the client: 9092 is the
  # SASL_SSL listener). The provider exports no such attribute, so it is built
  # from the cluster ID; var.kafka_bootstrap overrides it.
  managed_kafka_bootstrap = "bootstrap.${local.managed_kafka_cluster_id}.${var.region}.managedkafka.${var.project_id}.cloud.goog:9092"

  kafka_bootstrap = (
    var.kafka_backend == "vm" ? "${one(google_compute_address.kafka[*].address)}:${local.kafka_port}"
    : coalesce(var.kafka_bootstrap, local.managed_kafka_bootstrap)
  )

  # Secret Manager: the resource name of the secret, and of the version the
  # app VMs read (turnstile-up fetches it; Terraform never does).
  kafka_sasl_secret = var.kafka_sasl_password_secret == null ? null : (
    startswith(var.kafka_sasl_password_secret, "projects/") ? var.kafka_sasl_password_secret : "projects/${var.project_id}/secrets/${var.kafka_sasl_password_secret}"
  )

  # The client settings in the app VMs' vm.env, which client-config
  # (docker/compose.apps.yaml) writes into client.properties. The vm backend
  # adds none: PLAINTEXT is compose's default.
  kafka_client_env = merge(
    local.managed_kafka ? {
      KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
      KAFKA_SASL_MECHANISM    = "OAUTHBEARER"
      # A turnstile-stream property, not librdkafka's: the apps answer the
      # token refresh with a Google access token of the VM's service account.
      KAFKA_OAUTHBEARER_PROVIDER = "gcp"
    } : {},
    var.kafka_backend == "external" ? { KAFKA_SECURITY_PROTOCOL = var.kafka_security_protocol } : {},
    var.kafka_backend == "external" && var.kafka_sasl_mechanism != null ? {
      KAFKA_SASL_MECHANISM = var.kafka_sasl_mechanism
      KAFKA_SASL_USERNAME  = var.kafka_sasl_username
      # Not the password: the name of the version that turnstile-up reads.
      KAFKA_SASL_PASSWORD_SECRET = "${local.kafka_sasl_secret}/versions/${var.kafka_sasl_password_secret_version}"
    } : {},
  )
}

# The cluster: brokers in three zones of var.region, addresses in
# local.managed_kafka_subnet. prevent_destroy: its topics hold the records
# not yet in the lake and the consumers' committed offsets with their
# metadata (docs/deploy.md, "Tear down" says how to delete it on purpose).
resource "google_managed_kafka_cluster" "this" {
  count = local.managed_kafka ? 1 : 0

  project    = var.project_id
  cluster_id = local.managed_kafka_cluster_id
  location   = var.region
  labels     = { role = "kafka" }

  capacity_config {
    vcpu_count   = tostring(var.managed_kafka_capacity.vcpu_count)
    memory_bytes = tostring(var.managed_kafka_capacity.memory_bytes)
  }

  gcp_config {
    access_config {
      network_configs {
        subnet = local.managed_kafka_subnet
      }
    }
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.this]
}

# The topics topic-init creates on the Kafka VM, replicated three times:
# the records (kafka_partitions partitions) and the closed windows the
# consumer publishes and the dashboard reads (one partition, as on the VM),
# and with the ridership feed its records (kafka_partitions, keyed by
# station complex). Growing a records topic later follows docs/consumer.md,
# "Growing the topic", as on the VM.
resource "google_managed_kafka_topic" "this" {
  for_each = local.managed_kafka ? merge({
    records = { topic = var.kafka_topic, partitions = var.kafka_partitions }
    windows = { topic = var.emit_topic, partitions = 1 }
    }, local.ridership ? {
    ridership = { topic = local.ridership_topic, partitions = var.kafka_partitions }
  } : {}) : {}

  project            = var.project_id
  location           = var.region
  cluster            = google_managed_kafka_cluster.this[0].cluster_id
  topic_id           = each.value.topic
  replication_factor = 3
  partition_count    = each.value.partitions
}

# The producer and the consumers (with the dashboard, which runs as the
# consumer VM's account) connect as their service accounts; the Kafka VM's
# account does not exist on this backend.
resource "google_project_iam_member" "managed_kafka_client" {
  for_each = local.managed_kafka ? toset(local.app_roles) : toset([])

  project = var.project_id
  role    = "roles/managedkafka.client"
  member  = local.sa_member[each.key]
}

# The external cluster's password: the app VMs may read this one secret.
resource "google_secret_manager_secret_iam_member" "kafka_sasl_password" {
  for_each = local.kafka_sasl_secret != null && var.kafka_backend == "external" ? toset(local.app_roles) : toset([])

  secret_id = local.kafka_sasl_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member[each.key]
}

# Before kafka_backend, the Kafka VM's resources were single instances: an
# existing state moves to index 0 instead of planning a replacement (which
# the data disk's prevent_destroy would refuse anyway).
moved {
  from = google_compute_disk.kafka_data
  to   = google_compute_disk.kafka_data[0]
}

moved {
  from = google_compute_address.kafka
  to   = google_compute_address.kafka[0]
}

moved {
  from = google_compute_firewall.kafka_from_apps
  to   = google_compute_firewall.kafka_from_apps[0]
}

moved {
  from = google_compute_firewall.kafka_deny_others
  to   = google_compute_firewall.kafka_deny_others[0]
}
