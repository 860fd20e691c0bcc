terraform {
  # Works with Terraform >= 1.9 and OpenTofu >= 1.8 (the offline tests use
  # OpenTofu 1.12, pinned in tools/tofu/go.mod).
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Exactly one release, so that every plan runs the same provider code.
      # 7.15.0 is listed at https://releases.hashicorp.com/terraform-provider-google/
      # (the provider's CHANGELOG.md has its notes). To upgrade, change it
      # here and regenerate .terraform.lock.hcl (docs/deploy.md); the offline
      # tests swap it for the test double's version in their staged copy.
      version = "7.15.0"
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
