locals {
  # Settings each VM's compose project reads from /opt/turnstile/vm.env.
  # Terraform owns this file: the startup script rewrites it at every boot.
  vm_env = {
    kafka = {
      KAFKA_ADVERTISED_HOST = google_compute_address.kafka.address
      KAFKA_TOPIC           = var.kafka_topic
      KAFKA_PARTITIONS      = tostring(var.kafka_partitions)
    }
    consumer = {
      KAFKA_BOOTSTRAP = local.kafka_bootstrap
      KAFKA_TOPIC     = var.kafka_topic
      LAKE_SINK       = local.lake_sink
      CONSUMER_GROUP  = "${var.name_prefix}-consumer"
      WINDOW_DURATION = tostring(var.window_minutes.duration)
      WINDOW_SLIDE    = tostring(var.window_minutes.slide)
    }
    producer = {
      KAFKA_BOOTSTRAP     = local.kafka_bootstrap
      KAFKA_TOPIC         = var.kafka_topic
      PRODUCER_TURNSTILES = tostring(var.producer_turnstiles)
      PRODUCER_RATE       = tostring(var.producer_rate)
    }
  }

  startup_scripts = {
    for r in local.roles : r => templatefile("${path.module}/templates/startup.sh.tftpl", {
      role            = r
      compose_file    = local.compose[r].file
      compose_profile = local.compose[r].profile
      compose_yaml    = file("${path.module}/../docker/${local.compose[r].file}")
      turnstile_up    = file("${path.module}/templates/turnstile-up.sh")
      registry_host   = r == "kafka" ? "" : local.registry_host
      env             = local.vm_env[r]
    })
  }
}

resource "google_compute_instance" "vm" {
  for_each = toset(local.roles)

  name         = local.vm_names[each.key]
  description  = "turnstile-stream ${each.key} (Docker Compose: ${local.compose[each.key].file})."
  machine_type = var.machine_types[each.key]
  zone         = var.zone
  tags         = [local.vm_tags[each.key]]
  labels       = { role = each.key }

  allow_stopping_for_update = true

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
      size  = var.boot_disk_gb[each.key]
      type  = "pd-balanced"
    }
  }

  # No access_config block: no external IP. SSH arrives through IAP; outbound
  # traffic leaves through Cloud NAT.
  network_interface {
    subnetwork = local.subnetwork
    network_ip = each.key == "kafka" ? google_compute_address.kafka.address : null
  }

  service_account {
    # The role's own account (same e-mail as google_service_account.vm[role].email).
    email  = trimprefix(local.sa_member[each.key], "serviceAccount:")
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # Passed as metadata rather than metadata_startup_script so that a change
  # updates the VM in place (it runs again at the next boot) instead of
  # recreating it.
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
  ]
}
