# Offline plan-time checks of the whole configuration: `tofu test`, run by
# scripts/tf-test.sh. The google provider is mocked, so nothing reaches GCP;
# OpenTofu reads its schema from the hashicorp/google TEST DOUBLE that
# scripts/tools.sh puts in a local provider mirror. terraform/test/ drives the
# same checks from Go with terratest.

mock_provider "google" {}

variables {
  project_id = "demo-project-123"
}

run "three_vms_in_a_zone" {
  command = plan

  assert {
    condition     = length(google_compute_instance.vm) == 3
    error_message = "Expected exactly three VMs (kafka, consumer, producer)."
  }

  assert {
    condition     = length(distinct([for vm in google_compute_instance.vm : vm.name])) == 3
    error_message = "The three VMs must have distinct names."
  }

  assert {
    condition     = toset([for vm in google_compute_instance.vm : vm.name]) == toset(["turnstile-kafka", "turnstile-consumer", "turnstile-producer"])
    error_message = "VM names must be PREFIX-kafka, PREFIX-consumer and PREFIX-producer."
  }

  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : vm.zone == "us-central1-a" && can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", vm.zone))])
    error_message = "Every VM must be placed in a zone (us-central1-a), not a region."
  }

  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : vm.boot_disk[0].initialize_params[0].image == "debian-cloud/debian-12"])
    error_message = "Every VM must boot Debian 12."
  }

  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : length(vm.network_interface[0].access_config) == 0])
    error_message = "No VM may have an external IP (access_config)."
  }

  assert {
    condition     = google_compute_instance.vm["kafka"].machine_type == "e2-standard-2" && google_compute_instance.vm["consumer"].machine_type == "e2-small"
    error_message = "Machine types must come from var.machine_types."
  }
}

run "firewall_ssh_only_from_iap" {
  command = plan

  assert {
    condition     = google_compute_firewall.iap_ssh.source_ranges == toset(["35.235.240.0/20"])
    error_message = "SSH must be open only to IAP's range 35.235.240.0/20."
  }

  assert {
    condition     = alltrue([for a in google_compute_firewall.iap_ssh.allow : a.protocol == "tcp" && a.ports == tolist(["22"])])
    error_message = "The IAP rule must open tcp/22 and nothing else."
  }

  assert {
    condition     = google_compute_firewall.iap_ssh.target_tags == toset(["turnstile-kafka", "turnstile-consumer", "turnstile-producer"])
    error_message = "The IAP SSH rule must target exactly the three VMs."
  }

  # Whatever else a rule opens, port 22 may only be reachable from IAP.
  assert {
    condition = alltrue([
      for fw in [google_compute_firewall.iap_ssh, google_compute_firewall.kafka_from_apps] :
      !anytrue([for a in fw.allow : contains(coalesce(a.ports, []), "22")]) || (fw.source_ranges == toset(["35.235.240.0/20"]) && length(coalesce(fw.source_tags, [])) == 0)
    ])
    error_message = "A firewall rule opens port 22 to something other than IAP."
  }
}

run "kafka_never_open_to_the_internet" {
  command = plan

  assert {
    condition     = length(coalesce(google_compute_firewall.kafka_from_apps.source_ranges, [])) == 0
    error_message = "The Kafka rule must not admit any IP range (in particular not 0.0.0.0/0); only the app VMs' tags."
  }

  assert {
    condition     = google_compute_firewall.kafka_from_apps.source_tags == toset(["turnstile-consumer", "turnstile-producer"])
    error_message = "Kafka must be reachable only from the consumer and producer tags."
  }

  assert {
    condition     = google_compute_firewall.kafka_from_apps.target_tags == toset(["turnstile-kafka"])
    error_message = "The Kafka rule must target only the Kafka VM."
  }

  assert {
    condition     = alltrue([for a in google_compute_firewall.kafka_from_apps.allow : a.protocol == "tcp" && a.ports == tolist(["9092"])])
    error_message = "The Kafka rule must open tcp/9092 only."
  }

  assert {
    condition = alltrue([
      for fw in [google_compute_firewall.iap_ssh, google_compute_firewall.kafka_from_apps] :
      !contains(coalesce(fw.source_ranges, []), "0.0.0.0/0")
    ])
    error_message = "No firewall rule may admit 0.0.0.0/0."
  }
}

run "service_accounts_least_privilege" {
  command = plan

  assert {
    condition     = google_storage_bucket_iam_member.consumer_writer.role == "projects/demo-project-123/roles/turnstile_lake_writer"
    error_message = "The consumer's bucket role must be the module's lake-writer custom role by default."
  }

  assert {
    condition     = google_project_iam_custom_role.lake_writer[0].permissions == toset(["storage.objects.create", "storage.objects.delete"])
    error_message = "The lake-writer role may only create and replace objects."
  }

  assert {
    condition     = google_storage_bucket_iam_member.consumer_writer.member == "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com"
    error_message = "The bucket write grant must go to the consumer's service account, and to no other."
  }

  assert {
    condition     = google_storage_bucket_iam_member.consumer_writer.bucket == "demo-project-123-turnstile-lake"
    error_message = "The consumer's grant must be on the lake bucket."
  }

  assert {
    condition     = toset([for m in google_project_iam_member.vm : m.role]) == toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])
    error_message = "Project-level grants must be limited to log and metric writing."
  }

  assert {
    condition     = length(google_project_iam_member.vm) == 6
    error_message = "Each of the three service accounts gets exactly logWriter and metricWriter."
  }

  assert {
    condition     = alltrue([for m in google_artifact_registry_repository_iam_member.vm_reader : m.role == "roles/artifactregistry.reader"]) && length(google_artifact_registry_repository_iam_member.vm_reader) == 3
    error_message = "Every VM's account gets Artifact Registry read, nothing more."
  }

  assert {
    condition     = google_compute_instance.vm["consumer"].service_account[0].email == "turnstile-consumer@demo-project-123.iam.gserviceaccount.com"
    error_message = "The consumer VM must run as the consumer service account."
  }

  assert {
    condition     = length(distinct([for vm in google_compute_instance.vm : vm.service_account[0].email])) == 3
    error_message = "Each VM must run as its own service account."
  }
}

run "lake_bucket" {
  command = plan

  assert {
    condition     = google_storage_bucket.lake.public_access_prevention == "enforced"
    error_message = "The lake bucket must enforce public access prevention."
  }

  assert {
    condition     = google_storage_bucket.lake.uniform_bucket_level_access == true
    error_message = "The lake bucket must use uniform bucket-level access."
  }

  assert {
    condition     = google_storage_bucket.lake.versioning[0].enabled == true
    error_message = "The lake bucket must keep object versions."
  }

  assert {
    condition     = google_storage_bucket.lake.force_destroy == false
    error_message = "Destroying the stack must not delete lake files by default."
  }

  assert {
    condition     = alltrue([for r in google_storage_bucket.lake.lifecycle_rule : alltrue([for a in r.action : a.type != "Delete"])])
    error_message = "No lifecycle rule may delete lake files."
  }

  assert {
    condition     = google_artifact_registry_repository.apps.format == "DOCKER"
    error_message = "The registry must be a Docker repository."
  }
}

run "startup_scripts_start_the_right_compose_file" {
  command = plan

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "readonly COMPOSE_FILE='compose.kafka.yaml'")
    error_message = "The Kafka VM must start docker/compose.kafka.yaml."
  }

  assert {
    condition = alltrue([
      for r in ["consumer", "producer"] :
      strcontains(google_compute_instance.vm[r].metadata["startup-script"], "readonly COMPOSE_FILE='compose.apps.yaml'") &&
      strcontains(google_compute_instance.vm[r].metadata["startup-script"], "readonly COMPOSE_PROFILE='${r}'")
    ])
    error_message = "The app VMs must start docker/compose.apps.yaml with their own profile."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "KAFKA_BOOTSTRAP=10.10.0.10:9092") && strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "LAKE_SINK=gs://demo-project-123-turnstile-lake/turnstile")
    error_message = "The consumer VM must be pointed at Kafka's reserved address and the lake bucket."
  }

  assert {
    condition     = google_compute_instance.vm["kafka"].network_interface[0].network_ip == "10.10.0.10" && google_compute_address.kafka.address == "10.10.0.10"
    error_message = "Kafka must sit on its reserved internal address."
  }

  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : vm.metadata["enable-oslogin"] == "TRUE"])
    error_message = "OS Login must be on for every VM (IAP SSH uses it)."
  }
}

run "outputs" {
  command = plan

  assert {
    condition     = output.vm_names == { kafka = "turnstile-kafka", consumer = "turnstile-consumer", producer = "turnstile-producer" }
    error_message = "vm_names must map each role to its VM."
  }

  assert {
    condition     = output.registry == "us-central1-docker.pkg.dev/demo-project-123/turnstile"
    error_message = "registry must be REGION-docker.pkg.dev/PROJECT/REPOSITORY."
  }

  assert {
    condition     = output.bucket_name == "demo-project-123-turnstile-lake" && output.lake_sink == "gs://demo-project-123-turnstile-lake/turnstile"
    error_message = "bucket_name and lake_sink must name the lake bucket."
  }

  assert {
    condition     = output.github_variables.KAFKA_VM_NAME == output.kafka_vm_name && output.github_variables.ZONE == output.zone
    error_message = "github_variables must repeat the individual outputs."
  }
}

run "nearline_rule_never_deletes" {
  command = plan

  variables {
    lake_nearline_after_days = 30
  }

  assert {
    condition     = length(google_storage_bucket.lake.lifecycle_rule) == 1
    error_message = "lake_nearline_after_days > 0 must add one lifecycle rule."
  }

  assert {
    condition     = alltrue([for r in google_storage_bucket.lake.lifecycle_rule : alltrue([for a in r.action : a.type == "SetStorageClass" && a.storage_class == "NEARLINE"])])
    error_message = "The optional lifecycle rule may only change the storage class."
  }
}

run "existing_network" {
  command = plan

  variables {
    create_network = false
    network        = "default"
    subnetwork     = "default"
  }

  assert {
    condition     = length(google_compute_network.this) == 0 && length(google_compute_subnetwork.this) == 0
    error_message = "create_network = false must not create a VPC."
  }

  assert {
    condition     = google_compute_firewall.iap_ssh.network == "default" && google_compute_firewall.kafka_from_apps.network == "default"
    error_message = "The firewall rules must be added to the existing network."
  }
}

run "rejects_a_region_as_zone" {
  command = plan

  variables {
    zone = "us-central1"
  }

  expect_failures = [var.zone]
}

run "rejects_a_zone_as_region" {
  command = plan

  variables {
    region = "us-central1-a"
  }

  expect_failures = [var.region]
}

run "rejects_a_zone_outside_the_region" {
  command = plan

  variables {
    region = "europe-west1"
    zone   = "us-central1-a"
  }

  expect_failures = [google_compute_instance.vm]
}

run "predefined_bucket_role" {
  command = plan

  variables {
    consumer_bucket_role = "roles/storage.objectUser"
  }

  assert {
    condition     = google_storage_bucket_iam_member.consumer_writer.role == "roles/storage.objectUser" && length(google_project_iam_custom_role.lake_writer) == 0
    error_message = "A predefined consumer_bucket_role replaces the custom role."
  }
}

run "rejects_a_broad_bucket_role" {
  command = plan

  variables {
    consumer_bucket_role = "roles/storage.admin"
  }

  expect_failures = [var.consumer_bucket_role]
}
