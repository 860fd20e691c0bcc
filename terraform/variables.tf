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
  description = "Boot disk size in GB of each VM. Kafka keeps its log on its boot disk (a Docker volume)."
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

variable "consumer_bucket_role" {
  description = "Role the consumer's service account gets on the lake bucket. Null (the default) grants a custom role with only storage.objects.create and storage.objects.delete: the consumer creates window files and, when it retries an upload or replays a window after a restart, replaces them (GCS needs delete permission to replace). roles/storage.objectCreator cannot replace; roles/storage.objectUser can also read and list."
  type        = string
  default     = null

  validation {
    condition     = var.consumer_bucket_role == null || contains(["roles/storage.objectCreator", "roles/storage.objectUser"], coalesce(var.consumer_bucket_role, "-"))
    error_message = "consumer_bucket_role must be null (the custom lake-writer role), roles/storage.objectCreator or roles/storage.objectUser; nothing broader."
  }
}

variable "kafka_topic" {
  description = "Kafka topic the producer writes and the consumer reads."
  type        = string
  default     = "mta-turnstile"
}

variable "kafka_partitions" {
  description = "Partition count of the topic that the Kafka VM creates at start."
  type        = number
  default     = 3

  validation {
    condition     = var.kafka_partitions >= 1 && var.kafka_partitions <= 64 && floor(var.kafka_partitions) == var.kafka_partitions
    error_message = "kafka_partitions must be a whole number from 1 to 64."
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
