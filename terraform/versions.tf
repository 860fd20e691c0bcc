terraform {
  # Works with Terraform >= 1.9 and OpenTofu >= 1.8 (the offline tests use
  # OpenTofu 1.12, pinned in tools/tofu/go.mod).
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # State is local by default and never committed (see .gitignore). For a
  # shared remote state in a GCS bucket, copy backend.tf.example to backend.tf;
  # docs/deploy.md explains it.
}

provider "google" {
  project = var.project_id
  region  = var.region
  zone    = var.zone

  default_labels = merge({ app = "turnstile-stream", managed-by = "terraform" }, var.labels)
}
