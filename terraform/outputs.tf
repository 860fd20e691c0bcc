# The deploy workflows read GitHub repository variables whose names are these
# output names in upper case (project_id -> PROJECT_ID). docs/deploy.md shows
# how to set them all from `terraform output`.

output "project_id" {
  description = "GCP project ID."
  value       = var.project_id
}

output "region" {
  description = "Region of the subnet, registry and NAT."
  value       = var.region
}

output "zone" {
  description = "Zone of the three VMs."
  value       = var.zone
}

output "kafka_vm_name" {
  description = "Name of the Kafka VM (target of deploy-bitnami)."
  value       = google_compute_instance.vm["kafka"].name
}

output "consumer_vm_name" {
  description = "Name of the consumer VM."
  value       = google_compute_instance.vm["consumer"].name
}

output "producer_vm_name" {
  description = "Name of the producer VM."
  value       = google_compute_instance.vm["producer"].name
}

output "vm_names" {
  description = "VM names by role."
  value       = { for r, vm in google_compute_instance.vm : r => vm.name }
}

output "internal_ips" {
  description = "Internal IPv4 address of each VM, by role."
  value       = { for r, vm in google_compute_instance.vm : r => vm.network_interface[0].network_ip }
}

output "kafka_bootstrap" {
  description = "bootstrap.servers for clients inside the VPC."
  value       = local.kafka_bootstrap
}

output "bucket_name" {
  description = "Data-lake bucket."
  value       = google_storage_bucket.lake.name
}

output "lake_sink" {
  description = "The consumer's --sink: where window files land."
  value       = local.lake_sink
}

output "registry" {
  description = "Artifact Registry path for the app images: REGISTRY/producer:SHA, REGISTRY/consumer:SHA."
  value       = local.registry
}

output "service_accounts" {
  description = "Service account e-mail of each VM, by role."
  value       = { for r, sa in google_service_account.vm : r => sa.email }
}

output "github_variables" {
  description = "The repository variables the deploy workflows read, by name."
  value = {
    PROJECT_ID       = var.project_id
    REGION           = var.region
    ZONE             = var.zone
    KAFKA_VM_NAME    = google_compute_instance.vm["kafka"].name
    CONSUMER_VM_NAME = google_compute_instance.vm["consumer"].name
    PRODUCER_VM_NAME = google_compute_instance.vm["producer"].name
    REGISTRY         = local.registry
    BUCKET_NAME      = google_storage_bucket.lake.name
  }
}
