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

  # Optional cost rule. There is deliberately no Delete rule: lake files are
  # kept until someone removes them on purpose.
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

  depends_on = [google_project_service.this]
}
