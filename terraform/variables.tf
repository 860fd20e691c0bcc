variable "project_id" {
  description = "ID of the GCP project that holds every resource (not its name or number)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region for the subnet, Cloud NAT, the Kafka address, the bucket (unless bucket_location is set) and Artifact Registry, e.g. us-central1. A region, not a zone."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a GCP region such as us-central1 (no zone suffix like -a)."
  }
}

variable "zone" {
  description = "Zone for the three VMs, e.g. us-central1-a. A zone, not a region: it must lie in var.region."
  type        = string
  default     = "us-central1-a"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone))
    error_message = "zone must be a GCP zone such as us-central1-a; a region such as us-central1 is not a zone."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (VMs become PREFIX-kafka, PREFIX-consumer, PREFIX-producer)."
  type        = string
  default     = "turnstile"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-21 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen (service account IDs are limited to 30 characters)."
  }
}

variable "machine_types" {
  description = "Machine type of each VM."
  type = object({
    kafka    = string
    consumer = string
    producer = string
  })
  default = {
    kafka    = "e2-standard-2"
    consumer = "e2-small"
    producer = "e2-small"
  }

  validation {
    condition     = alltrue([for t in values(var.machine_types) : can(regex("^[a-z0-9]+-[a-z0-9-]+$", t))])
    error_message = "Each machine type must look like e2-small or n2-standard-4."
  }
}

variable "boot_disk_gb" {
  description = "Boot disk size in GB of each VM (per consumer VM for the consumer). Kafka keeps its log on its own data disk (kafka_data_disk_gb), not here; 50 GB stays the Kafka default because shrinking an existing boot disk replaces the VM."
  type = object({
    kafka    = number
    consumer = number
    producer = number
  })
  default = {
    kafka    = 50
    consumer = 20
    producer = 20
  }

  validation {
    condition     = alltrue([for s in values(var.boot_disk_gb) : s >= 10 && s <= 2000 && floor(s) == s])
    error_message = "Boot disks must be whole numbers of GB between 10 and 2000."
  }
}

variable "create_network" {
  description = "Create a dedicated VPC and subnet (recommended). When false, the VMs join var.network / var.subnetwork, e.g. the default network, whose own permissive firewall rules this module does not remove."
  type        = bool
  default     = true
}

variable "network" {
  description = "Existing VPC network name, used only when create_network is false."
  type        = string
  default     = "default"
}

variable "subnetwork" {
  description = "Existing subnetwork name in var.region, used only when create_network is false."
  type        = string
  default     = "default"
}

variable "subnet_cidr" {
  description = "IPv4 range of the subnet created when create_network is true."
  type        = string
  default     = "10.10.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 16))
    error_message = "subnet_cidr must be an IPv4 CIDR block with room for at least 16 hosts, e.g. 10.10.0.0/24."
  }
}

variable "kafka_internal_ip" {
  description = "Static internal IP reserved for the Kafka VM (the apps' bootstrap address). Null picks the 10th host of subnet_cidr when the module creates the network, or lets GCP choose one otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_internal_ip == null || can(cidrnetmask("${coalesce(var.kafka_internal_ip, "0.0.0.0")}/32"))
    error_message = "kafka_internal_ip must be an IPv4 address such as 10.10.0.10."
  }
}

variable "create_nat" {
  description = "Create a Cloud Router and Cloud NAT so the VMs, which have no external IP, can reach Debian, Docker and Docker Hub mirrors. Set false only if the network already has NAT."
  type        = bool
  default     = true
}

variable "enable_apis" {
  description = "Enable the project services this module needs (Compute, IAM, IAP, Artifact Registry, Storage, Logging, Monitoring). They are never disabled on destroy."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the data-lake bucket. Null means PROJECT_ID-turnstile-lake."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", coalesce(var.bucket_name, "ok")))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, hyphens, underscores or dots."
  }
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete the bucket even when it holds lake files. Keep false except in throw-away test projects (the gated real-GCP test sets it)."
  type        = bool
  default     = false
}

variable "bucket_location" {
  description = "Location of the data-lake bucket (a region or multi-region such as US). Null means var.region."
  type        = string
  default     = null
}

variable "lake_noncurrent_days" {
  description = "Delete noncurrent (overwritten or deleted) versions of lake objects this many days after they became noncurrent; 0 keeps them forever. Live objects are never deleted by a rule."
  type        = number
  default     = 30

  validation {
    condition     = var.lake_noncurrent_days >= 0 && floor(var.lake_noncurrent_days) == var.lake_noncurrent_days
    error_message = "lake_noncurrent_days must be a whole number, 0 or more."
  }
}

variable "lake_layout" {
  description = "Object layout of the lake: flat (turnstile/*.csv.gz) or hive (turnstile/dt=YYYY-MM-DD/*.csv.gz, plus a BigQuery table partitioned on dt)."
  type        = string
  default     = "flat"

  validation {
    condition     = contains(["flat", "hive"], var.lake_layout)
    error_message = "lake_layout must be flat or hive."
  }
}

variable "registry_keep_images" {
  description = "Artifact Registry cleanup: keep at least the newest N images of each app (producer, consumer, dashboard). Older ones are deleted once they are also older than registry_min_age_days."
  type        = number
  default     = 10

  validation {
    condition     = var.registry_keep_images >= 1 && floor(var.registry_keep_images) == var.registry_keep_images
    error_message = "registry_keep_images must be a whole number, 1 or more."
  }
}

variable "registry_min_age_days" {
  description = "Artifact Registry cleanup never deletes an image younger than this many days, even beyond registry_keep_images (room for rollbacks)."
  type        = number
  default     = 30

  validation {
    condition     = var.registry_min_age_days >= 1 && floor(var.registry_min_age_days) == var.registry_min_age_days
    error_message = "registry_min_age_days must be a whole number, 1 or more."
  }
}

variable "bigquery_dataset_id" {
  description = "BigQuery dataset that holds the external tables over the lake."
  type        = string
  default     = "turnstile"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.bigquery_dataset_id)) && length(var.bigquery_dataset_id) <= 1024
    error_message = "bigquery_dataset_id may hold only letters, digits and underscores."
  }
}

variable "bigquery_deletion_protection" {
  description = "Deletion protection of the BigQuery external tables (they hold no data; the lake files stay in the bucket either way)."
  type        = bool
  default     = true
}

variable "lake_nearline_after_days" {
  description = "Move lake files to NEARLINE storage after this many days; 0 disables it. Lake files are never deleted by a lifecycle rule."
  type        = number
  default     = 0

  validation {
    condition     = var.lake_nearline_after_days >= 0 && floor(var.lake_nearline_after_days) == var.lake_nearline_after_days
    error_message = "lake_nearline_after_days must be a whole number, 0 or more."
  }
}

variable "registry_id" {
  description = "ID of the Artifact Registry Docker repository that holds the app images."
  type        = string
  default     = "turnstile"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.registry_id))
    error_message = "registry_id must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "dockerhub_registry_id" {
  description = "ID of the Artifact Registry remote repository that caches Docker Hub: the VMs pull every third-party image (kafka_image, config_init_image) through it, never from Docker Hub directly."
  type        = string
  default     = "dockerhub"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.dockerhub_registry_id))
    error_message = "dockerhub_registry_id must be lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    condition     = var.dockerhub_registry_id != var.registry_id
    error_message = "dockerhub_registry_id must differ from registry_id (the app image repository)."
  }
}

variable "kafka_image" {
  description = "The Kafka VM's broker image, as a Docker Hub path (official images under library/) pinned by an exact version tag or a digest; pulled through the Docker Hub remote repository (dockerhub_registry_id). Keep it equal to the default of KAFKA_IMAGE in docker/compose.kafka.yaml, which CI tests."
  type        = string
  default     = "apache/kafka:4.1.0"

  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$", var.kafka_image))
    error_message = "kafka_image must be a Docker Hub path pinned by an exact version tag (starting with a digit, so never latest) or by @sha256: digest, e.g. apache/kafka:4.1.0."
  }
}

variable "config_init_image" {
  description = "The app VMs' one-shot client-config image (busybox), as a Docker Hub path (official images under library/) pinned by an exact version tag or a digest; pulled through the Docker Hub remote repository."
  type        = string
  default     = "library/busybox:1.37.0"

  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$", var.config_init_image))
    error_message = "config_init_image must be a Docker Hub path pinned by an exact version tag (starting with a digit, so never latest) or by @sha256: digest, e.g. library/busybox:1.37.0."
  }
}

variable "consumer_bucket_role" {
  description = "Role the consumer's service account gets on the lake bucket. Null (the default) grants a custom role with only storage.objects.create, storage.objects.delete and storage.objects.get: the consumer creates window files and side objects; when it retries an upload or replays a window after a restart it replaces them (GCS needs delete permission to replace); after GCS answers 412 to a create-only write it reads the object back to compare. roles/storage.objectUser holds these and more (list, update); roles/storage.objectCreator is refused, as it can neither replace nor read back."
  type        = string
  default     = null

  validation {
    condition     = var.consumer_bucket_role == null || contains(["roles/storage.objectUser"], coalesce(var.consumer_bucket_role, "-"))
    error_message = "consumer_bucket_role must be null (the custom lake-writer role) or roles/storage.objectUser: the consumer needs storage.objects.create, storage.objects.delete and storage.objects.get (roles/storage.objectCreator has neither delete nor get), and nothing broader."
  }
}

variable "kafka_topic" {
  description = "Kafka topic the producer writes and the consumer reads."
  type        = string
  default     = "mta-turnstile"
}

variable "kafka_partitions" {
  description = "Partition count of the records topic: the one topic-init creates on the Kafka VM (it never changes the count of an existing topic), or the managed cluster's topic (kafka_backend = managed; Terraform can raise it in place, never lower it). Growing a live topic is a manual procedure either way (docs/consumer.md \"Growing the topic\"). At least consumer_count, or some consumers sit idle."
  type        = number
  default     = 3

  validation {
    condition     = var.kafka_partitions >= 1 && var.kafka_partitions <= 64 && floor(var.kafka_partitions) == var.kafka_partitions
    error_message = "kafka_partitions must be a whole number from 1 to 64."
  }

  validation {
    condition     = var.kafka_partitions >= var.consumer_count
    error_message = "kafka_partitions must be at least consumer_count: a consumer group member without a partition reads nothing. Raise kafka_partitions (docs/deploy.md, \"Scaling out\")."
  }
}

variable "consumer_count" {
  description = "Number of consumer VMs, all in one consumer group. Each runs the consumer (and the dashboard) with --instance-id set to its host name, which also gives it its own transactional.id."
  type        = number
  default     = 1

  validation {
    condition     = var.consumer_count >= 1 && var.consumer_count <= 16 && floor(var.consumer_count) == var.consumer_count
    error_message = "consumer_count must be a whole number from 1 to 16."
  }
}

variable "emit_topic" {
  description = "Kafka topic of the closed windows: the consumer writes it (--emit-topic), the dashboard reads it; topic-init creates it on the Kafka VM, Terraform on the managed cluster (one partition either way)."
  type        = string
  default     = "mta-turnstile-windows"

  validation {
    condition     = can(regex("^[a-zA-Z0-9._-]{1,249}$", var.emit_topic))
    error_message = "emit_topic must be a valid Kafka topic name."
  }
}

variable "dashboard_port" {
  description = "Port of the dashboard on each consumer VM's internal address (reach it through an IAP tunnel, docs/deploy.md)."
  type        = number
  default     = 8080

  validation {
    condition     = var.dashboard_port >= 1024 && var.dashboard_port <= 65535 && var.dashboard_port != 9092
    error_message = "dashboard_port must be an unprivileged port (1024-65535) other than Kafka's 9092."
  }
}

variable "kafka_data_disk_gb" {
  description = "Size in GB of the Kafka VM's data disk (the topic log and consumer offsets). It can grow in place, never shrink (docs/deploy.md)."
  type        = number
  default     = 50

  validation {
    condition     = var.kafka_data_disk_gb >= 10 && var.kafka_data_disk_gb <= 65536 && floor(var.kafka_data_disk_gb) == var.kafka_data_disk_gb
    error_message = "kafka_data_disk_gb must be a whole number of GB from 10 to 65536."
  }
}

variable "kafka_data_disk_type" {
  description = "Persistent disk type of the Kafka data disk."
  type        = string
  default     = "pd-balanced"

  validation {
    condition     = contains(["pd-standard", "pd-balanced", "pd-ssd"], var.kafka_data_disk_type)
    error_message = "kafka_data_disk_type must be pd-standard, pd-balanced or pd-ssd."
  }
}

variable "kafka_deletion_protection" {
  description = "Deletion protection of the Kafka VM: GCP refuses to delete it (destroy, replacement) until this is false and applied."
  type        = bool
  default     = true
}

# --- Where Kafka runs (kafka.tf; docs/deploy.md, "Kafka backends").

variable "kafka_backend" {
  description = "Where the apps' Kafka runs: vm (one broker on the Kafka VM, its log on a protected disk: the default), managed (Google Cloud Managed Service for Apache Kafka: a replicated cluster, SASL_SSL with OAUTHBEARER and the VMs' service accounts) or external (an existing cluster at kafka_bootstrap, its client settings and a password in Secret Manager). Only vm creates the Kafka VM, its disk, address, firewall rules and topic-init."
  type        = string
  default     = "vm"

  validation {
    condition     = contains(["vm", "managed", "external"], var.kafka_backend)
    error_message = "kafka_backend must be vm, managed or external."
  }
}

variable "kafka_bootstrap" {
  description = "bootstrap.servers of the cluster, host:port[,host:port...]. Required with kafka_backend = external. With managed it overrides the address built from the cluster ID (bootstrap.CLUSTER.REGION.managedkafka.PROJECT.cloud.goog:9092): set it to the cluster's bootstrapAddress if `gcloud managed-kafka clusters describe` shows another. Not allowed with vm (the apps use the Kafka VM's address)."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_bootstrap == null || can(regex("^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*$", coalesce(var.kafka_bootstrap, "x:1")))
    error_message = "kafka_bootstrap must be host:port or a comma-separated list of them, e.g. broker-1.example.com:9092,broker-2.example.com:9092."
  }

  validation {
    condition     = var.kafka_backend != "vm" || var.kafka_bootstrap == null
    error_message = "kafka_bootstrap is set but kafka_backend is vm: the apps use the Kafka VM's address. Set kafka_backend = \"external\" to use this cluster, or remove kafka_bootstrap."
  }

  validation {
    condition     = var.kafka_backend != "external" || var.kafka_bootstrap != null
    error_message = "kafka_backend = \"external\" needs kafka_bootstrap: the host:port list of the existing cluster."
  }
}

variable "managed_kafka_capacity" {
  description = "Capacity of the managed cluster (kafka_backend = managed): vcpu_count (3 or more) and memory_bytes (1 to 8 GiB per vCPU). Billed per hour whatever the load (docs/deploy.md, \"What each backend costs\")."
  type = object({
    vcpu_count   = number
    memory_bytes = number
  })
  default = {
    vcpu_count   = 3
    memory_bytes = 3221225472 # 3 GiB: 1 GiB per vCPU, the smallest
  }

  validation {
    condition     = var.managed_kafka_capacity.vcpu_count >= 3 && floor(var.managed_kafka_capacity.vcpu_count) == var.managed_kafka_capacity.vcpu_count
    error_message = "managed_kafka_capacity.vcpu_count must be a whole number, 3 or more (the service's minimum)."
  }

  validation {
    condition = (
      var.managed_kafka_capacity.memory_bytes >= var.managed_kafka_capacity.vcpu_count * 1073741824 &&
      var.managed_kafka_capacity.memory_bytes <= var.managed_kafka_capacity.vcpu_count * 8589934592 &&
      floor(var.managed_kafka_capacity.memory_bytes) == var.managed_kafka_capacity.memory_bytes
    )
    error_message = "managed_kafka_capacity.memory_bytes must be between 1 GiB and 8 GiB per vCPU (in bytes: 3 vCPUs take 3221225472 to 25769803776)."
  }
}

variable "managed_kafka_subnet" {
  description = "Subnet where the managed cluster gets its bootstrap and broker addresses (kafka_backend = managed), as projects/PROJECT/regions/REGION/subnetworks/NAME, in var.region. Null: the VMs' subnet (the module's, or var.subnetwork)."
  type        = string
  default     = null

  validation {
    condition     = var.managed_kafka_subnet == null || can(regex("^projects/[^/]+/regions/[a-z]+-[a-z]+[0-9]+/subnetworks/[^/]+$", coalesce(var.managed_kafka_subnet, "-")))
    error_message = "managed_kafka_subnet must look like projects/PROJECT/regions/REGION/subnetworks/NAME."
  }

  validation {
    condition     = var.managed_kafka_subnet == null || strcontains(coalesce(var.managed_kafka_subnet, "-"), "/regions/${var.region}/")
    error_message = "managed_kafka_subnet must lie in var.region: the service allocates the cluster's addresses in a subnet of the cluster's own region."
  }
}

variable "kafka_security_protocol" {
  description = "librdkafka security.protocol towards the external cluster (kafka_backend = external): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. The vm backend uses PLAINTEXT and managed SASL_SSL, whatever this says."
  type        = string
  default     = "SASL_SSL"

  validation {
    condition     = contains(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], var.kafka_security_protocol)
    error_message = "kafka_security_protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
  }
}

variable "kafka_sasl_mechanism" {
  description = "librdkafka sasl.mechanisms towards the external cluster: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Required when kafka_security_protocol is SASL_*; only with kafka_backend = external."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_sasl_mechanism == null || contains(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], coalesce(var.kafka_sasl_mechanism, "-"))
    error_message = "kafka_sasl_mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the managed backend sets OAUTHBEARER itself)."
  }

  validation {
    condition     = var.kafka_sasl_mechanism == null || var.kafka_backend == "external"
    error_message = "kafka_sasl_mechanism is only for kafka_backend = \"external\" (vm uses PLAINTEXT; managed sets SASL_SSL with OAUTHBEARER itself)."
  }

  validation {
    condition     = var.kafka_backend != "external" || startswith(var.kafka_security_protocol, "SASL_") == (var.kafka_sasl_mechanism != null)
    error_message = "With kafka_backend = \"external\", kafka_sasl_mechanism is required when kafka_security_protocol is SASL_PLAINTEXT or SASL_SSL, and must be null when it is PLAINTEXT or SSL."
  }
}

variable "kafka_sasl_username" {
  description = "sasl.username towards the external cluster (e.g. an API key). Not secret: it is written to the VMs' vm.env. Required with kafka_sasl_mechanism."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_sasl_username == null || can(regex("^[A-Za-z0-9._@:+=/-]{1,256}$", coalesce(var.kafka_sasl_username, "-")))
    error_message = "kafka_sasl_username may hold only letters, digits and . _ @ : + = / - (no spaces, quotes or $)."
  }

  validation {
    condition     = (var.kafka_sasl_username != null) == (var.kafka_sasl_mechanism != null)
    error_message = "kafka_sasl_username and kafka_sasl_mechanism go together: set both (SASL towards an external cluster) or neither."
  }
}

variable "kafka_sasl_password_secret" {
  description = "Secret Manager secret that holds sasl.password for the external cluster: its ID in project_id, or projects/PROJECT/secrets/ID. Terraform grants the producer's and consumers' service accounts secretAccessor on this secret only and never reads it: each app VM fetches it when its apps start (turnstile-up up, at boot and at every deploy). Required with kafka_sasl_mechanism."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_sasl_password_secret == null || can(regex("^(projects/[a-z0-9-]+/secrets/)?[A-Za-z0-9_-]{1,255}$", coalesce(var.kafka_sasl_password_secret, "-")))
    error_message = "kafka_sasl_password_secret must be a secret ID (letters, digits, _ and -) or projects/PROJECT/secrets/ID; never the password itself."
  }

  validation {
    condition     = (var.kafka_sasl_password_secret != null) == (var.kafka_sasl_mechanism != null)
    error_message = "kafka_sasl_password_secret and kafka_sasl_mechanism go together: SASL towards an external cluster needs the Secret Manager secret that holds the password, and nothing else uses one."
  }
}

variable "kafka_sasl_password_secret_version" {
  description = "Version of kafka_sasl_password_secret the VMs read: latest (a rotation reaches the apps at their next start or deploy) or a version number."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.kafka_sasl_password_secret_version))
    error_message = "kafka_sasl_password_secret_version must be latest or a version number."
  }
}

variable "producer_turnstiles" {
  description = "Number of synthetic turnstiles the producer VM simulates (--turnstiles)."
  type        = number
  default     = 500
}

variable "producer_rate" {
  description = "Synthetic records per second the producer VM publishes (--rate)."
  type        = number
  default     = 50
}

variable "ridership" {
  description = "The MTA Subway Hourly Ridership feed (issue #25; docs/deploy.md, \"The ridership feed\"). Null (the default): off, and nothing of it exists. Set (even to {}): the producer VM runs a second producer (--source ridership) that polls the data.ny.gov dataset every poll_interval with the app token from the Secret Manager secret PREFIX-soda-app-token (created empty here: add its value with gcloud, docs/deploy.md), each consumer VM runs a second consumer (--source ridership, its own group) that writes ridership/ in the lake bucket in lake_layout, the topic mta-ridership is created (topic-init on the Kafka VM, Terraform on the managed cluster), and BigQuery gets external tables over ridership/. window_minutes are the ridership consumer's window duration and slide (the feed is hourly)."
  type = object({
    dataset       = optional(string, "5wq4-mkjj")
    poll_interval = optional(string, "5m")
    window_minutes = optional(object({
      duration = number
      slide    = number
    }), { duration = 60, slide = 60 })
  })
  default = null

  validation {
    condition     = var.ridership == null || can(regex("^[a-z0-9]{4}-[a-z0-9]{4}$", try(var.ridership.dataset, "")))
    error_message = "ridership.dataset must be a data.ny.gov dataset ID such as 5wq4-mkjj (2025 on) or wujg-7c2s (2020-2024)."
  }

  validation {
    condition     = var.ridership == null || can(regex("^([0-9]+(ms|s|m|h))+$", try(var.ridership.poll_interval, "")))
    error_message = "ridership.poll_interval must be a Go duration in whole ms, s, m or h, such as 5m or 1h30m."
  }

  validation {
    condition     = var.ridership == null || try(var.ridership.window_minutes.duration >= 1 && var.ridership.window_minutes.slide >= 1 && var.ridership.window_minutes.slide <= var.ridership.window_minutes.duration, false)
    error_message = "ridership.window_minutes needs duration >= 1 and 1 <= slide <= duration."
  }
}

variable "window_minutes" {
  description = "Consumer window duration and slide in minutes (--duration and --slide)."
  type = object({
    duration = number
    slide    = number
  })
  default = {
    duration = 5
    slide    = 5
  }

  validation {
    condition     = var.window_minutes.duration >= 1 && var.window_minutes.slide >= 1 && var.window_minutes.slide <= var.window_minutes.duration
    error_message = "window_minutes needs duration >= 1 and 1 <= slide <= duration."
  }
}

variable "labels" {
  description = "Extra labels for every labelled resource."
  type        = map(string)
  default     = {}
}

# --- Alerting (monitoring.tf). Every threshold below is documented in
# docs/deploy.md, "Alerts".

variable "alert_email" {
  description = "E-mail address that receives the alerts. Empty: the alert policies exist (visible in Cloud Monitoring) but notify no one."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an e-mail address."
  }
}

variable "alert_lag_records" {
  description = "Consumer lag alert: fires when a consumer VM's total lag (records, all its partitions) is above this and has grown over the last alert_lag_minutes."
  type        = number
  default     = 10000

  validation {
    condition     = var.alert_lag_records >= 0
    error_message = "alert_lag_records must be 0 or more."
  }
}

variable "alert_lag_minutes" {
  description = "Consumer lag alert: the window, in minutes, over which the lag must have grown, and how long the condition must hold."
  type        = number
  default     = 15

  validation {
    condition     = var.alert_lag_minutes >= 1 && floor(var.alert_lag_minutes) == var.alert_lag_minutes
    error_message = "alert_lag_minutes must be a whole number of minutes, 1 or more."
  }
}

variable "alert_stall_minutes" {
  description = "Stalled-pipeline alert: fires when a consumer VM read records but no partition's watermark advanced for this many minutes. Keep it above the window slide (window_minutes.slide)."
  type        = number
  default     = 20

  validation {
    condition     = var.alert_stall_minutes >= 2 && floor(var.alert_stall_minutes) == var.alert_stall_minutes
    error_message = "alert_stall_minutes must be a whole number of minutes, 2 or more."
  }
}

variable "alert_rejected_per_second" {
  description = "Rejected-record alert: fires when the consumers reject more than this many records per second (averaged over 10 minutes, summed over VMs and reasons)."
  type        = number
  default     = 1

  validation {
    condition     = var.alert_rejected_per_second >= 0
    error_message = "alert_rejected_per_second must be 0 or more."
  }
}

variable "alert_write_errors" {
  description = "Write/commit error alert: fires when lake-write retries plus failed offset commits over 10 minutes exceed this count."
  type        = number
  default     = 5

  validation {
    condition     = var.alert_write_errors >= 0
    error_message = "alert_write_errors must be 0 or more."
  }
}

variable "alert_absent_minutes" {
  description = "App-down alert: fires when an app's /metrics has reported nothing for this many minutes (the Ops Agent's own heartbeat has alert_agent_absent_minutes)."
  type        = number
  default     = 10

  validation {
    condition     = var.alert_absent_minutes >= 2 && floor(var.alert_absent_minutes) == var.alert_absent_minutes
    error_message = "alert_absent_minutes must be a whole number of minutes, 2 or more."
  }
}

variable "alert_paused_minutes" {
  description = "Paused-partitions alert: fires when a consumer VM has had at least one partition paused (turnstile_consumer_partitions_paused > 0: a lake or dead-letter write keeps failing) for this many minutes."
  type        = number
  default     = 10

  validation {
    condition     = var.alert_paused_minutes >= 1 && floor(var.alert_paused_minutes) == var.alert_paused_minutes
    error_message = "alert_paused_minutes must be a whole number of minutes, 1 or more."
  }
}

variable "alert_not_ready_minutes" {
  description = "Not-ready alert: fires when an app VM's /readyz has answered not ready (or not at all) at every probe for this many minutes. The probe runs every minute on each app VM once an app is deployed there."
  type        = number
  default     = 5

  validation {
    condition     = var.alert_not_ready_minutes >= 2 && floor(var.alert_not_ready_minutes) == var.alert_not_ready_minutes
    error_message = "alert_not_ready_minutes must be a whole number of minutes, 2 or more."
  }
}

variable "alert_agent_absent_minutes" {
  description = "Ops Agent alert: fires when a VM's Ops Agent, which has reported before, has sent no heartbeat for this many minutes. A first install that fails is alerted on at once, through its log line (the agent-install-failed alert)."
  type        = number
  default     = 10

  validation {
    condition     = var.alert_agent_absent_minutes >= 2 && floor(var.alert_agent_absent_minutes) == var.alert_agent_absent_minutes
    error_message = "alert_agent_absent_minutes must be a whole number of minutes, 2 or more."
  }
}

# --- The GitHub deployer identity (deployer.tf).

variable "github_repository" {
  description = "OWNER/REPO of the GitHub repository whose deploy workflows may act as the deployer. Set it to manage the Workload Identity pool, its provider, the deployer service account and its grants in Terraform; null leaves them to the gcloud steps of docs/deploy.md."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", coalesce(var.github_repository, "x/y")))
    error_message = "github_repository must look like OWNER/REPO."
  }
}

variable "github_repository_id" {
  description = "Numeric ID of github_repository (gh api repos/OWNER/REPO --jq .id). The Workload Identity provider accepts only tokens whose repository_id claim matches: a repository deleted and re-created under the same name by someone else gets a new ID. Required when github_repository is set."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository_id == null || can(regex("^[0-9]+$", coalesce(var.github_repository_id, "0")))
    error_message = "github_repository_id must be the repository's numeric ID, e.g. 123456789."
  }

  validation {
    condition     = var.github_repository == null || var.github_repository_id != null
    error_message = "github_repository_id is required when github_repository is set: the Workload Identity provider trusts the repository by ID, not by name (gh api repos/OWNER/REPO --jq .id)."
  }
}

variable "github_repository_owner_id" {
  description = "Numeric ID of github_repository's owner, user or organization (gh api repos/OWNER/REPO --jq .owner.id). The Workload Identity provider also requires the repository_owner_id claim to match. Required when github_repository is set."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository_owner_id == null || can(regex("^[0-9]+$", coalesce(var.github_repository_owner_id, "0")))
    error_message = "github_repository_owner_id must be the owner's numeric ID, e.g. 987654."
  }

  validation {
    condition     = var.github_repository == null || var.github_repository_owner_id != null
    error_message = "github_repository_owner_id is required when github_repository is set (gh api repos/OWNER/REPO --jq .owner.id)."
  }
}

variable "github_environment" {
  description = "GitHub environment whose jobs may impersonate the deployer (both deploy workflows use production)."
  type        = string
  default     = "production"
}

variable "ops_agent_version" {
  description = "Ops Agent version the startup script installs (add-google-cloud-ops-agent-repo.sh --version): latest, a major version such as 2.*.*, or an exact one."
  type        = string
  default     = "2.*.*"

  validation {
    condition     = can(regex("^(latest|[0-9]+\\.(\\*|[0-9]+)\\.(\\*|[0-9]+))$", var.ops_agent_version))
    error_message = "ops_agent_version must be latest, MAJOR.*.* or MAJOR.MINOR.PATCH."
  }
}

variable "kafka_vm_retained" {
  description = "With kafka_backend managed or external: keep the Kafka VM, its data disk, address and firewall rules (the apps no longer use them). For the move away from vm: the old broker keeps its log and the consumers' committed offsets until they are copied (docs/deploy.md, \"Moving from vm to managed\"); set it back to false, with the teardown steps, to delete them."
  type        = bool
  default     = false

  validation {
    condition     = !(var.kafka_vm_retained && var.kafka_backend == "vm")
    error_message = "kafka_vm_retained is only for kafka_backend managed or external (the vm backend always has its Kafka VM)."
  }
}
