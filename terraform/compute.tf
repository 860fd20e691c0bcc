locals {
  # Kafka's log lives on this disk, attached under a fixed device name so that
  # the VM finds it at /dev/disk/by-id/google-<device name>.
  kafka_data_device = "kafka-data"
  kafka_data_mount  = "/mnt/disks/kafka-data"
  kafka_data_dir    = "${local.kafka_data_mount}/kafka"

  # The port the apps' /metrics and /readyz listen on, on the host's loopback
  # (compose.apps.yaml publishes 127.0.0.1:9090). The Ops Agent scrapes it.
  app_metrics_port = 9090
  # The ridership app's (var.ridership), beside it on each app VM
  # (compose.apps.yaml publishes 127.0.0.1:9091).
  ridership_metrics_port = 9091

  # Where the producer VM keeps the ridership producer's files (the startup
  # script creates them; compose.apps.yaml mounts them): the SODA app token,
  # read from Secret Manager at boot (mode 0600, the container's user), and
  # the folder of its --state-file cursor, which survives restarts, deploys
  # and reboots on the boot disk.
  soda_secrets_dir    = "/var/lib/turnstile/secrets"
  ridership_state_dir = "/var/lib/turnstile/ridership"

  # Settings of the ridership apps, by role, merged into role_env below.
  ridership_env = {
    kafka = local.ridership ? {
      RIDERSHIP_TOPIC = local.ridership_topic
    } : {}
    consumer = local.ridership ? {
      RIDERSHIP_TOPIC           = local.ridership_topic
      RIDERSHIP_LAKE_SINK       = local.ridership_sink
      RIDERSHIP_CONSUMER_GROUP  = "${var.name_prefix}-consumer-ridership"
      RIDERSHIP_WINDOW_DURATION = tostring(var.ridership.window_minutes.duration)
      RIDERSHIP_WINDOW_SLIDE    = tostring(var.ridership.window_minutes.slide)
      RIDERSHIP_METRICS_PORT    = tostring(local.ridership_metrics_port)
    } : {}
    producer = local.ridership ? {
      RIDERSHIP_TOPIC         = local.ridership_topic
      RIDERSHIP_DATASET       = var.ridership.dataset
      RIDERSHIP_POLL_INTERVAL = var.ridership.poll_interval
      RIDERSHIP_METRICS_PORT  = tostring(local.ridership_metrics_port)
      RIDERSHIP_STATE_DIR     = local.ridership_state_dir
      SODA_SECRETS_DIR        = local.soda_secrets_dir
    } : {}
  }

  # Settings each VM's compose project reads from /opt/turnstile/vm.env, by
  # role. Terraform owns this file: the startup script rewrites it at every
  # boot. Per-VM settings are merged in below.
  role_env = {
    kafka = {
      KAFKA_ADVERTISED_HOST = one(google_compute_address.kafka[*].address)
      # Publish the client listener on the VM's internal address only, not
      # on 0.0.0.0 (the firewall rules in network.tf limit who reaches it).
      KAFKA_BIND_ADDRESS = one(google_compute_address.kafka[*].address)
      KAFKA_IMAGE        = "${local.dockerhub_mirror}/${var.kafka_image}"
      KAFKA_TOPIC        = var.kafka_topic
      KAFKA_PARTITIONS   = tostring(var.kafka_partitions)
      EMIT_TOPIC         = var.emit_topic
      KAFKA_DATA_DIR     = local.kafka_data_dir
    }
    consumer = merge(local.kafka_client_env, {
      KAFKA_BOOTSTRAP   = local.kafka_bootstrap
      CONFIG_INIT_IMAGE = "${local.dockerhub_mirror}/${var.config_init_image}"
      KAFKA_TOPIC       = var.kafka_topic
      EMIT_TOPIC        = var.emit_topic
      LAKE_SINK         = local.lake_sink
      CONSUMER_GROUP    = "${var.name_prefix}-consumer"
      WINDOW_DURATION   = tostring(var.window_minutes.duration)
      WINDOW_SLIDE      = tostring(var.window_minutes.slide)
      DASHBOARD_PORT    = tostring(var.dashboard_port)
    })
    producer = merge(local.kafka_client_env, {
      KAFKA_BOOTSTRAP     = local.kafka_bootstrap
      CONFIG_INIT_IMAGE   = "${local.dockerhub_mirror}/${var.config_init_image}"
      KAFKA_TOPIC         = var.kafka_topic
      PRODUCER_TURNSTILES = tostring(var.producer_turnstiles)
      PRODUCER_RATE       = tostring(var.producer_rate)
    })
  }

  # A consumer VM's instance ID is its host name, which on GCE is the VM name:
  # static group membership (group.instance.id) and, from it, its own
  # transactional.id. DASHBOARD_BIND (the VM's internal address) is added by
  # the startup script, which reads it from the metadata server.
  vm_env = {
    for k, vm in local.vms : k => merge(
      local.role_env[vm.role],
      local.ridership_env[vm.role],
      vm.role == "consumer" ? { CONSUMER_INSTANCE_ID = vm.name } : {},
    )
  }

  startup_scripts = {
    for k, vm in local.vms : k => templatefile("${path.module}/templates/startup.sh.tftpl", {
      role              = vm.role
      vm_name           = vm.name
      compose_file      = local.compose[vm.role].file
      compose_profile   = local.compose[vm.role].profile
      compose_yaml      = file("${path.module}/../docker/${local.compose[vm.role].file}")
      turnstile_up      = file("${path.module}/templates/turnstile-up.sh")
      registry_host     = local.registry_host
      env               = local.vm_env[k]
      data_device       = vm.role == "kafka" ? local.kafka_data_device : ""
      data_mount        = vm.role == "kafka" ? local.kafka_data_mount : ""
      data_dir          = vm.role == "kafka" ? local.kafka_data_dir : ""
      metrics_port      = vm.role == "kafka" ? "" : tostring(local.app_metrics_port)
      bind_internal_ip  = vm.role == "consumer"
      ops_agent_version = var.ops_agent_version
      # The ridership feed: its app's metrics port on the app VMs, and on the
      # producer VM the NAME of the token's secret version (never the token).
      ridership_metrics_port = local.ridership && vm.role != "kafka" ? tostring(local.ridership_metrics_port) : ""
      soda_app_token_secret  = local.ridership && vm.role == "producer" ? "${local.soda_app_token_ref}/versions/latest" : ""
    })
  }
}

# Kafka's log and the consumer group offsets (only with the Kafka VM:
# kafka_backend = vm, or kafka_vm_retained). A disk of its own survives the
# replacement of the Kafka VM (a zone or name change, a taint, a new image);
# prevent_destroy makes `terraform destroy` and any plan that would delete it
# fail. docs/deploy.md explains resizing it and replacing the VM around it.
resource "google_compute_disk" "kafka_data" {
  count = local.kafka_vm ? 1 : 0

  name        = "${var.name_prefix}-kafka-data"
  description = "Kafka log and consumer offsets of ${var.name_prefix}-kafka (mounted at ${local.kafka_data_mount})."
  zone        = var.zone
  type        = var.kafka_data_disk_type
  size        = var.kafka_data_disk_gb
  labels      = { role = "kafka" }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.this]
}

resource "google_compute_instance" "vm" {
  for_each = local.vms

  name         = each.value.name
  description  = "turnstile-stream ${each.value.role} (Docker Compose: ${local.compose[each.value.role].file})."
  machine_type = var.machine_types[each.value.role]
  zone         = var.zone
  tags         = [local.vm_tags[each.value.role]]
  labels       = { role = each.value.role }

  allow_stopping_for_update = true
  # GCP refuses to delete the Kafka VM while this is true (var.kafka_deletion_protection).
  deletion_protection = each.value.role == "kafka" ? var.kafka_deletion_protection : false

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
      size  = var.boot_disk_gb[each.value.role]
      type  = "pd-balanced"
    }
  }

  dynamic "attached_disk" {
    for_each = each.value.role == "kafka" ? google_compute_disk.kafka_data[*].self_link : []
    content {
      source      = attached_disk.value
      device_name = local.kafka_data_device
      mode        = "READ_WRITE"
    }
  }

  # No access_config block: no external IP. SSH arrives through IAP; outbound
  # traffic leaves through Cloud NAT.
  network_interface {
    subnetwork = local.subnetwork
    network_ip = each.value.role == "kafka" ? one(google_compute_address.kafka[*].address) : null
  }

  service_account {
    # The role's own account (same e-mail as google_service_account.vm[role].email).
    email  = local.sa_email[each.value.role]
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # Passed as metadata rather than metadata_startup_script so that a change
  # updates the VM in place (it runs again at the next boot, or at once with
  # `sudo google_metadata_script_runner startup`) instead of recreating it.
  metadata = {
    startup-script         = local.startup_scripts[each.key]
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
  }

  lifecycle {
    precondition {
      condition     = startswith(var.zone, "${var.region}-")
      error_message = "zone ${var.zone} is not in region ${var.region}."
    }
  }

  depends_on = [
    google_compute_router_nat.this,
    google_project_iam_member.vm,
    google_artifact_registry_repository_iam_member.vm_reader,
    google_artifact_registry_repository_iam_member.dockerhub_reader,
    # The producer reads the SODA app token at boot (var.ridership).
    google_secret_manager_secret_iam_member.producer_soda_app_token,
  ]
}
