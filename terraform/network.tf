resource "google_compute_network" "this" {
  count = var.create_network ? 1 : 0

  name                    = "${var.name_prefix}-vpc"
  description             = "turnstile-stream VMs (SSH via IAP only)."
  auto_create_subnetworks = false

  depends_on = [google_project_service.this]
}

resource "google_compute_subnetwork" "this" {
  count = var.create_network ? 1 : 0

  name                     = "${var.name_prefix}-subnet"
  network                  = google_compute_network.this[0].id
  region                   = var.region
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true
}

locals {
  network    = var.create_network ? google_compute_network.this[0].id : var.network
  subnetwork = var.create_network ? google_compute_subnetwork.this[0].id : var.subnetwork

  kafka_ip = var.kafka_internal_ip != null ? var.kafka_internal_ip : (
    var.create_network ? cidrhost(var.subnet_cidr, 10) : null
  )
}

# A reserved internal address keeps the bootstrap address stable when the
# Kafka VM is recreated. Only with the Kafka VM (kafka.tf).
resource "google_compute_address" "kafka" {
  count = local.kafka_vm ? 1 : 0

  name         = "${var.name_prefix}-kafka-internal"
  description  = "Kafka bootstrap address for the app VMs."
  region       = var.region
  subnetwork   = local.subnetwork
  address_type = "INTERNAL"
  address      = local.kafka_ip

  depends_on = [google_project_service.this]
}

# The VMs have no external IP: Cloud NAT gives them outbound access for
# packages and images.
resource "google_compute_router" "this" {
  count = var.create_nat ? 1 : 0

  name    = "${var.name_prefix}-router"
  region  = var.region
  network = local.network

  depends_on = [google_project_service.this]
}

resource "google_compute_router_nat" "this" {
  count = var.create_nat ? 1 : 0

  name                               = "${var.name_prefix}-nat"
  router                             = google_compute_router.this[0].name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Ingress is closed by the VPC's implied deny rule except for these two.

resource "google_compute_firewall" "iap_ssh" {
  name          = "${var.name_prefix}-allow-iap-ssh"
  description   = "SSH to the turnstile VMs only through Identity-Aware Proxy TCP forwarding."
  network       = local.network
  direction     = "INGRESS"
  source_ranges = [local.iap_source_range]
  target_tags   = values(local.vm_tags)

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# Kafka's client listener (PLAINTEXT, no ACLs yet: docs/deploy.md, "Kafka's
# exposure") is reachable only from the VMs that run as the consumer's or the
# producer's service account. Service accounts, not network tags: a tag is
# metadata that anyone allowed to edit an instance can add, while running a
# VM as a service account needs iam.serviceAccountUser on it. Priority 900
# puts the allow ahead of the deny below.
resource "google_compute_firewall" "kafka_from_apps" {
  count = local.kafka_vm ? 1 : 0

  name                    = "${var.name_prefix}-allow-kafka-from-apps"
  description             = "Kafka's client listener, reachable only from the producer and consumer VMs' service accounts."
  network                 = local.network
  direction               = "INGRESS"
  priority                = 900
  source_service_accounts = local.app_service_accounts
  target_service_accounts = [local.sa_email.kafka]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.kafka_port)]
  }
}

# Everything else is refused on Kafka's port, whatever other rules of the
# network admit: on an existing network (create_network = false) the default
# network's default-allow-internal (priority 65534) would otherwise let every
# VM of the project in. A deny at 1000 wins over any allow with a larger
# priority number.
resource "google_compute_firewall" "kafka_deny_others" {
  count = local.kafka_vm ? 1 : 0

  name                    = "${var.name_prefix}-deny-kafka-from-others"
  description             = "Refuses Kafka's port to everything but the app VMs (overrides permissive rules such as default-allow-internal)."
  network                 = local.network
  direction               = "INGRESS"
  priority                = 1000
  source_ranges           = ["0.0.0.0/0"]
  target_service_accounts = [local.sa_email.kafka]

  deny {
    protocol = "tcp"
    ports    = [tostring(local.kafka_port)]
  }
}

# The dashboard on the consumer VMs, reachable only through an IAP TCP tunnel
# (gcloud compute start-iap-tunnel, docs/deploy.md). It listens on each VM's
# internal address, which nothing else in the VPC is allowed to reach.
resource "google_compute_firewall" "dashboard_from_iap" {
  name          = "${var.name_prefix}-allow-iap-dashboard"
  description   = "The dashboard on the consumer VMs, only through Identity-Aware Proxy TCP forwarding."
  network       = local.network
  direction     = "INGRESS"
  source_ranges = [local.iap_source_range]
  target_tags   = [local.vm_tags.consumer]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.dashboard_port)]
  }
}
