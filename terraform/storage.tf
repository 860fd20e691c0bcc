# The data lake. Consumer output lands under turnstile/, turnstile_rejected/
# and turnstile_late/.
resource "google_storage_bucket" "lake" {
  name                        = local.bucket_name
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.bucket_force_destroy

  versioning {
    enabled = true
  }

  # Versioning keeps every overwritten or deleted object as a noncurrent
  # version (the consumer replaces a window file when it retries or replays
  # it). This rule deletes those noncurrent versions lake_noncurrent_days
  # after they were replaced; it never touches a live object.
  dynamic "lifecycle_rule" {
    for_each = var.lake_noncurrent_days > 0 ? [var.lake_noncurrent_days] : []
    content {
      action {
        type = "Delete"
      }
      condition {
        days_since_noncurrent_time = lifecycle_rule.value
        with_state                 = "ARCHIVED"
      }
    }
  }

  # Optional cost rule. No rule deletes a live lake file: they are kept until
  # someone removes them on purpose.
  dynamic "lifecycle_rule" {
    for_each = var.lake_nearline_after_days > 0 ? [var.lake_nearline_after_days] : []
    content {
      action {
        type          = "SetStorageClass"
        storage_class = "NEARLINE"
      }
      condition {
        age                   = lifecycle_rule.value
        matches_storage_class = ["STANDARD"]
      }
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_artifact_registry_repository" "apps" {
  repository_id = var.registry_id
  location      = var.region
  format        = "DOCKER"
  description   = "turnstile-stream app images, tagged with the Git commit SHA."

  docker_config {
    immutable_tags = true
  }

  # Keep the newest registry_keep_images versions of each image (producer,
  # consumer, dashboard: one package each) and anything younger than
  # registry_min_age_days; delete the rest. A KEEP policy wins over a DELETE.
  # Artifact Registry applies the policies about once a day.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "delete-old-images"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.registry_min_age_days * 86400}s"
    }
  }

  cleanup_policies {
    id     = "keep-newest-per-app"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.registry_keep_images
    }
  }

  depends_on = [google_project_service.this]
}

# A pull-through cache of Docker Hub. The VMs pull every third-party image
# (apache/kafka on the Kafka VM, busybox on the app VMs) through it, so a
# deploy never depends on Docker Hub's anonymous pull limit for the one NAT
# address: Artifact Registry fetches an image version from Docker Hub once
# and serves it from its cache afterwards. The images are pinned by exact tag
# or digest (var.kafka_image, var.config_init_image).
resource "google_artifact_registry_repository" "dockerhub" {
  repository_id = var.dockerhub_registry_id
  location      = var.region
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
  description   = "Pull-through cache of Docker Hub for the third-party images of the turnstile VMs."

  remote_repository_config {
    description = "Docker Hub"
    docker_repository {
      public_repository = "DOCKER_HUB"
    }
  }

  depends_on = [google_project_service.this]
}
