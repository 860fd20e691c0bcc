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

output "kafka_backend" {
  description = "Where the apps' Kafka runs: vm, managed or external (deploy-bitnami has nothing to do unless vm)."
  value       = var.kafka_backend
}

output "kafka_vm_name" {
  description = "Name of the Kafka VM (target of deploy-bitnami); null without one (kafka_backend managed or external, unless kafka_vm_retained)."
  value       = try(google_compute_instance.vm["kafka"].name, null)
}

output "consumer_vm_names" {
  description = "Names of the consumer VMs (consumer_count of them), space-separated: deploy-apps deploys to each."
  value       = join(" ", [for k in local.consumer_keys : google_compute_instance.vm[k].name])
}

output "producer_vm_name" {
  description = "Name of the producer VM."
  value       = google_compute_instance.vm["producer"].name
}

output "vm_names" {
  description = "VM names by key: kafka, producer, consumer, consumer-1, ..."
  value       = { for r, vm in google_compute_instance.vm : r => vm.name }
}

output "internal_ips" {
  description = "Internal IPv4 address of each VM, by key (as vm_names)."
  value       = { for r, vm in google_compute_instance.vm : r => vm.network_interface[0].network_ip }
}

output "kafka_bootstrap" {
  description = "bootstrap.servers the apps use, for clients inside the VPC: the Kafka VM's address, the managed cluster's bootstrap address, or var.kafka_bootstrap."
  value       = local.kafka_bootstrap
}

output "managed_kafka_cluster" {
  description = "Full name of the managed Kafka cluster (kafka_backend = managed), else null."
  value       = try(google_managed_kafka_cluster.this[0].id, null)
}

output "bucket_name" {
  description = "Data-lake bucket."
  value       = google_storage_bucket.lake.name
}

output "lake_sink" {
  description = "The consumer's --sink: where window files land."
  value       = local.lake_sink
}

output "ridership_lake_sink" {
  description = "The ridership consumer's --sink (var.ridership set), else null."
  value       = local.ridership ? local.ridership_sink : null
}

output "soda_app_token_secret" {
  description = "Secret Manager secret for the SODA app token (var.ridership set), else null. Terraform creates it without a value: add one with `gcloud secrets versions add` (docs/deploy.md, \"The ridership feed\")."
  value       = try(google_secret_manager_secret.soda_app_token[0].id, null)
}

output "registry" {
  description = "Artifact Registry path for the app images: REGISTRY/producer:SHA, REGISTRY/consumer:SHA."
  value       = local.registry
}

output "kafka_data_disk" {
  description = "Name of the Kafka data disk (prevent_destroy; docs/deploy.md explains resizing and teardown); null without the Kafka VM."
  value       = try(google_compute_disk.kafka_data[0].name, null)
}

output "dashboard_urls" {
  description = "The dashboard of each consumer VM, by VM name: open it through `gcloud compute start-iap-tunnel VM PORT --local-host-port=localhost:PORT` (docs/deploy.md)."
  value       = { for k in local.consumer_keys : google_compute_instance.vm[k].name => "http://${google_compute_instance.vm[k].network_interface[0].network_ip}:${var.dashboard_port}" }
}

output "bigquery_tables" {
  description = "Fully qualified BigQuery external tables over the lake."
  value = concat(
    ["${var.project_id}.${google_bigquery_dataset.lake.dataset_id}.${google_bigquery_table.windows.table_id}"],
    [for t in google_bigquery_table.windows_by_day : "${var.project_id}.${google_bigquery_dataset.lake.dataset_id}.${t.table_id}"],
    [for t in concat(google_bigquery_table.ridership, google_bigquery_table.ridership_by_day) : "${var.project_id}.${google_bigquery_dataset.lake.dataset_id}.${t.table_id}"],
  )
}

output "wif_provider" {
  description = "Full name of the Workload Identity provider for google-github-actions/auth (null unless github_repository is set)."
  value       = try(google_iam_workload_identity_pool_provider.github[0].name, null)
}

output "deploy_service_account" {
  description = "E-mail of the deployer service account (null unless github_repository is set)."
  value       = local.manage_deployer ? trimprefix(local.deployer_member, "serviceAccount:") : null
}

output "service_accounts" {
  description = "Service account e-mail of each VM, by role."
  value       = { for r, sa in google_service_account.vm : r => sa.email }
}

output "github_variables" {
  description = "The repository variables the deploy workflows read, by name."
  value = merge({
    PROJECT_ID        = var.project_id
    REGION            = var.region
    ZONE              = var.zone
    KAFKA_BACKEND     = var.kafka_backend
    CONSUMER_VM_NAMES = join(" ", [for k in local.consumer_keys : google_compute_instance.vm[k].name])
    PRODUCER_VM_NAME  = google_compute_instance.vm["producer"].name
    REGISTRY          = local.registry
    BUCKET_NAME       = google_storage_bucket.lake.name
    }, local.kafka_vm ? {
    # Only with a Kafka VM: deploy-bitnami's target.
    KAFKA_VM_NAME = google_compute_instance.vm["kafka"].name
    } : {}, local.manage_deployer ? {
    # Set only when Terraform manages the deployer (github_repository);
    # otherwise they come from the one-time gcloud setup of docs/deploy.md.
    WIF_PROVIDER           = google_iam_workload_identity_pool_provider.github[0].name
    DEPLOY_SERVICE_ACCOUNT = trimprefix(local.deployer_member, "serviceAccount:")
  } : {})
}
