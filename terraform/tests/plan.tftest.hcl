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
      for fw in [google_compute_firewall.iap_ssh, google_compute_firewall.kafka_from_apps[0]] :
      !anytrue([for a in fw.allow : contains(coalesce(a.ports, []), "22")]) || (fw.source_ranges == toset(["35.235.240.0/20"]) && length(coalesce(fw.source_tags, [])) == 0)
    ])
    error_message = "A firewall rule opens port 22 to something other than IAP."
  }
}

run "kafka_never_open_to_the_internet" {
  command = plan

  assert {
    condition     = length(coalesce(google_compute_firewall.kafka_from_apps[0].source_ranges, [])) == 0
    error_message = "The Kafka rule must not admit any IP range (in particular not 0.0.0.0/0); only the app VMs' tags."
  }

  assert {
    condition     = google_compute_firewall.kafka_from_apps[0].source_service_accounts == toset(["turnstile-consumer@demo-project-123.iam.gserviceaccount.com", "turnstile-producer@demo-project-123.iam.gserviceaccount.com"]) && length(coalesce(google_compute_firewall.kafka_from_apps[0].source_tags, [])) == 0
    error_message = "Kafka must be reachable only from the consumer's and the producer's service accounts (not from network tags, which anyone who may edit an instance can set)."
  }

  assert {
    condition     = google_compute_firewall.kafka_from_apps[0].target_service_accounts == toset(["turnstile-kafka@demo-project-123.iam.gserviceaccount.com"])
    error_message = "The Kafka rule must target only the Kafka VM's service account."
  }

  assert {
    condition     = alltrue([for a in google_compute_firewall.kafka_from_apps[0].allow : a.protocol == "tcp" && a.ports == tolist(["9092"])])
    error_message = "The Kafka rule must open tcp/9092 only."
  }

  assert {
    condition = alltrue([
      for fw in [google_compute_firewall.iap_ssh, google_compute_firewall.kafka_from_apps[0]] :
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
    condition     = google_project_iam_custom_role.lake_writer[0].permissions == toset(["storage.objects.create", "storage.objects.delete", "storage.objects.get"])
    error_message = "The lake-writer role may only create, replace and read back objects."
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
    condition     = alltrue([for m in google_artifact_registry_repository_iam_member.vm_reader : m.role == "roles/artifactregistry.reader"]) && toset(keys(google_artifact_registry_repository_iam_member.vm_reader)) == toset(["consumer", "producer"])
    error_message = "The app VMs' accounts get read on the app image repository, nothing more; the Kafka VM, which runs no app image, gets nothing there."
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

  # A Delete rule may only remove noncurrent (replaced or deleted) versions.
  assert {
    condition = alltrue([
      for r in google_storage_bucket.lake.lifecycle_rule :
      alltrue([for a in r.action : a.type != "Delete"]) ||
      alltrue([for c in r.condition : c.with_state == "ARCHIVED" && coalesce(c.days_since_noncurrent_time, 0) > 0])
    ])
    error_message = "No lifecycle rule may delete live lake files: a Delete rule must be limited to noncurrent versions."
  }

  assert {
    condition = length([
      for r in google_storage_bucket.lake.lifecycle_rule : r
      if anytrue([for a in r.action : a.type == "Delete"]) && anytrue([for c in r.condition : c.days_since_noncurrent_time == 30 && c.with_state == "ARCHIVED"])
    ]) == 1
    error_message = "Noncurrent versions must expire lake_noncurrent_days (30) days after they became noncurrent."
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
    condition     = google_compute_instance.vm["kafka"].network_interface[0].network_ip == "10.10.0.10" && google_compute_address.kafka[0].address == "10.10.0.10"
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
    lake_noncurrent_days     = 0
  }

  assert {
    condition     = length(google_storage_bucket.lake.lifecycle_rule) == 1
    error_message = "lake_nearline_after_days > 0 (and lake_noncurrent_days = 0) must leave exactly one lifecycle rule."
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
    condition     = google_compute_firewall.iap_ssh.network == "default" && google_compute_firewall.kafka_from_apps[0].network == "default"
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

run "rejects_object_creator" {
  command = plan

  variables {
    consumer_bucket_role = "roles/storage.objectCreator"
  }

  expect_failures = [var.consumer_bucket_role]
}

run "rejects_a_broad_bucket_role" {
  command = plan

  variables {
    consumer_bucket_role = "roles/storage.admin"
  }

  expect_failures = [var.consumer_bucket_role]
}

# --- Data safety: Kafka's own disk, deletion protection, registry cleanup.

run "kafka_data_disk" {
  command = plan

  assert {
    condition     = google_compute_disk.kafka_data[0].name == "turnstile-kafka-data" && google_compute_disk.kafka_data[0].zone == "us-central1-a"
    error_message = "The Kafka data disk must be PREFIX-kafka-data in the VMs' zone."
  }

  assert {
    condition     = google_compute_disk.kafka_data[0].size == 50 && google_compute_disk.kafka_data[0].type == "pd-balanced"
    error_message = "The data disk's size and type must come from kafka_data_disk_gb (50) and kafka_data_disk_type (pd-balanced)."
  }

  assert {
    condition = (
      length(google_compute_instance.vm["kafka"].attached_disk) == 1 &&
      google_compute_instance.vm["kafka"].attached_disk[0].device_name == "kafka-data" &&
      google_compute_instance.vm["kafka"].attached_disk[0].mode == "READ_WRITE"
    )
    error_message = "The Kafka VM must attach the data disk read-write under the fixed device name kafka-data."
  }

  assert {
    condition     = alltrue([for k, vm in google_compute_instance.vm : length(vm.attached_disk) == 0 if k != "kafka"])
    error_message = "Only the Kafka VM attaches the data disk."
  }

  assert {
    condition     = google_compute_instance.vm["kafka"].deletion_protection == true && alltrue([for k, vm in google_compute_instance.vm : vm.deletion_protection == false if k != "kafka"])
    error_message = "Deletion protection must be on for the Kafka VM (kafka_deletion_protection defaults to true) and off for the stateless app VMs."
  }

  # The mount: by device name, formatted only when blank, through fstab by
  # UUID, Docker held until it is mounted, Kafka's data directory on it.
  assert {
    condition = alltrue([for needle in [
      "readonly DATA_DEVICE='kafka-data'",
      "readonly DATA_MOUNT='/mnt/disks/kafka-data'",
      "/dev/disk/by-id/google-$DATA_DEVICE}\" waited=0",
      "if ! blkid \"$dev\" >/dev/null 2>&1; then",
      "mkfs.ext4",
      "$DATA_MOUNT ext4 discard,defaults,nofail 0 2",
      "RequiresMountsFor=$DATA_MOUNT",
      "KAFKA_DATA_DIR=/mnt/disks/kafka-data/kafka",
      ] : strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], needle)
    ])
    error_message = "The Kafka startup script must mount the data disk by /dev/disk/by-id/google-kafka-data, format it only when blank, and point KAFKA_DATA_DIR at it."
  }

  assert {
    condition     = !strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "KAFKA_DATA_DIR=/") && strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "readonly DATA_DEVICE=''")
    error_message = "App VMs have no data disk."
  }
}

run "kafka_deletion_protection_can_be_turned_off" {
  command = plan

  variables {
    kafka_deletion_protection = false
    kafka_data_disk_gb        = 200
    kafka_data_disk_type      = "pd-ssd"
  }

  assert {
    condition     = google_compute_instance.vm["kafka"].deletion_protection == false
    error_message = "kafka_deletion_protection = false must turn the Kafka VM's deletion protection off."
  }

  assert {
    condition     = google_compute_disk.kafka_data[0].size == 200 && google_compute_disk.kafka_data[0].type == "pd-ssd"
    error_message = "kafka_data_disk_gb and kafka_data_disk_type must size the data disk."
  }
}

run "rejects_a_bad_disk_type" {
  command = plan

  variables {
    kafka_data_disk_type = "local-ssd"
  }

  expect_failures = [var.kafka_data_disk_type]
}

run "registry_cleanup_keeps_the_newest_images" {
  command = plan

  variables {
    registry_keep_images = 7
  }

  assert {
    condition = length([
      for p in google_artifact_registry_repository.apps.cleanup_policies : p
      if p.action == "KEEP" && length(p.most_recent_versions) == 1 && p.most_recent_versions[0].keep_count == 7
    ]) == 1
    error_message = "A KEEP policy must keep the newest registry_keep_images (7) versions of each image."
  }

  assert {
    condition = length([
      for p in google_artifact_registry_repository.apps.cleanup_policies : p
      if p.action == "DELETE" && length(p.condition) == 1 && p.condition[0].older_than == "2592000s" && p.condition[0].tag_state == "ANY"
    ]) == 1
    error_message = "The DELETE policy must only take images older than registry_min_age_days (30 days = 2592000s)."
  }

  assert {
    condition     = google_artifact_registry_repository.apps.cleanup_policy_dry_run == false
    error_message = "The cleanup policies must really run (cleanup_policy_dry_run = false)."
  }
}

# --- First boot and deploys.

run "startup_scripts_wait_lock_and_mark_ready" {
  command = plan

  assert {
    condition = alltrue([for vm in google_compute_instance.vm : alltrue([for needle in [
      "apt-get -o DPkg::Lock::Timeout=600",
      "for attempt in 1 2 3 4 5; do",
      "readonly READY_MARKER=/run/turnstile/ready",
      "rm -f \"$READY_MARKER\"",
      "flock -w \"$LOCK_TIMEOUT\" 9",
      "turnstile-up deploy COMPOSE [IMAGES_ENV]",
      ] : strcontains(vm.metadata["startup-script"], needle)])
    ])
    error_message = "Every startup script must wait for the dpkg lock with bounded retries, clear and write the ready marker, and install a turnstile-up that takes a flock."
  }

  # The marker is the very last thing the script does.
  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : endswith(trimspace(vm.metadata["startup-script"]), "log \"done: wrote $READY_MARKER\"") && strcontains(vm.metadata["startup-script"], "cat /proc/sys/kernel/random/boot_id >\"$READY_MARKER\"\nlog \"done: wrote $READY_MARKER\"")])
    error_message = "The ready marker must be written at the very end of the startup script."
  }

  # Kafka's health check requires topic-init to have exited 0 and the topics
  # to be describable.
  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "\"exited 0\") ;;") && strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "--describe --topic \"$topic\"")
    error_message = "turnstile-up health must require topic-init to have exited 0 and describe the topics."
  }
}

# --- The dashboard: consumer VMs, internal address, IAP only.

run "dashboard_on_the_consumer_vm" {
  command = plan

  assert {
    condition = alltrue([for needle in [
      "CONSUMER_INSTANCE_ID=turnstile-consumer\n",
      "EMIT_TOPIC=mta-turnstile-windows\n",
      "DASHBOARD_PORT=8080\n",
      "echo \"DASHBOARD_BIND=$ip\" >>\"$APP_DIR/vm.env.new\"",
      "/instance/network-interfaces/0/ip",
      ] : strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], needle)
    ])
    error_message = "The consumer VM's vm.env must carry CONSUMER_INSTANCE_ID (its host name), EMIT_TOPIC, DASHBOARD_PORT and DASHBOARD_BIND = its internal address."
  }

  assert {
    condition     = !strcontains(google_compute_instance.vm["producer"].metadata["startup-script"], "echo \"DASHBOARD_BIND=") && !strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "echo \"DASHBOARD_BIND=")
    error_message = "Only consumer VMs run the dashboard."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "EMIT_TOPIC=mta-turnstile-windows\n")
    error_message = "topic-init on the Kafka VM must create the emit topic."
  }

  assert {
    condition = (
      google_compute_firewall.dashboard_from_iap.source_ranges == toset(["35.235.240.0/20"]) &&
      google_compute_firewall.dashboard_from_iap.target_tags == toset(["turnstile-consumer"]) &&
      alltrue([for a in google_compute_firewall.dashboard_from_iap.allow : a.protocol == "tcp" && a.ports == tolist(["8080"])]) &&
      length(coalesce(google_compute_firewall.dashboard_from_iap.source_tags, [])) == 0
    )
    error_message = "The dashboard port may be opened only to IAP's range, only on the consumer VMs."
  }
}

# --- Observability.

run "ops_agent_scrapes_the_apps" {
  command = plan

  assert {
    condition = alltrue([for k in ["consumer", "producer"] : alltrue([for needle in [
      "add-google-cloud-ops-agent-repo.sh --also-install",
      "type: prometheus",
      "metrics_path: /metrics",
      "readonly METRICS_PORT='9090'",
      "targets: [\"localhost:$METRICS_PORT\"]",
      "vm: $VM_NAME",
      "readonly VM_NAME='turnstile-${k}'",
      ] : strcontains(google_compute_instance.vm[k].metadata["startup-script"], needle)])
    ])
    error_message = "The app VMs must install the Ops Agent and scrape their app's /metrics on localhost:9090, labelled with the VM name."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "readonly METRICS_PORT=''")
    error_message = "The Kafka VM has no app /metrics to scrape (host metrics only)."
  }

  assert {
    condition     = toset([for m in google_project_iam_member.vm : m.role]) == toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])
    error_message = "The Ops Agent needs only monitoring.metricWriter (and logging.logWriter), which the VMs already hold."
  }
}

run "alert_policies" {
  command = plan

  assert {
    condition     = toset(keys(google_monitoring_alert_policy.promql)) == toset(["consumer_lag", "stalled", "rejected", "write_errors", "partitions_paused", "not_ready", "agent_install_failed", "app_down"])
    error_message = "Expected PromQL alert policies for lag, stall, rejected rate, write/commit errors, paused partitions, not ready, a failed Ops Agent install and app absence."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.promql["consumer_lag"].conditions[0].condition_prometheus_query_language[0].query, "sum by (vm) (turnstile_consumer_lag) > 10000") &&
      strcontains(google_monitoring_alert_policy.promql["consumer_lag"].conditions[0].condition_prometheus_query_language[0].query, "delta(turnstile_consumer_lag[15m])) > 0") &&
      google_monitoring_alert_policy.promql["consumer_lag"].conditions[0].condition_prometheus_query_language[0].duration == "900s"
    )
    error_message = "The lag alert must fire when the lag is above alert_lag_records (10000) and grew over alert_lag_minutes (15)."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.promql["stalled"].conditions[0].condition_prometheus_query_language[0].query, "changes(turnstile_consumer_watermark_seconds[20m])) == 0") &&
      strcontains(google_monitoring_alert_policy.promql["stalled"].conditions[0].condition_prometheus_query_language[0].query, "rate(turnstile_consumer_records_in_total[20m])) > 0")
    )
    error_message = "The stall alert must fire when records arrive but no watermark advanced for alert_stall_minutes (20)."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["rejected"].conditions[0].condition_prometheus_query_language[0].query, "sum(rate(turnstile_consumer_records_rejected_total[10m])) > 1")
    error_message = "The rejected-record alert must compare the rejection rate with alert_rejected_per_second (1)."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.promql["write_errors"].conditions[0].condition_prometheus_query_language[0].query, "increase(turnstile_consumer_sink_retries_total[10m])") &&
      strcontains(google_monitoring_alert_policy.promql["write_errors"].conditions[0].condition_prometheus_query_language[0].query, "increase(turnstile_consumer_commit_errors_total[10m])) > 5")
    )
    error_message = "The write/commit error alert must count lake-write retries and failed commits against alert_write_errors (5)."
  }

  assert {
    condition = alltrue([for m in ["turnstile_consumer_records_in_total", "turnstile_producer_sent_total"] :
      strcontains(google_monitoring_alert_policy.promql["app_down"].conditions[0].condition_prometheus_query_language[0].query, "(max by (vm) (max_over_time(${m}[24h])) unless max by (vm) (max_over_time(${m}[10m])))")
    ])
    error_message = "The app-down alert must fire when an app VM's metrics, seen in the last day, are absent for alert_absent_minutes (10)."
  }

  assert {
    condition = (
      google_monitoring_alert_policy.vm_down.conditions[0].condition_absent[0].duration == "600s" &&
      strcontains(google_monitoring_alert_policy.vm_down.conditions[0].condition_absent[0].filter, "agent.googleapis.com/agent/uptime")
    )
    error_message = "The VM-down alert must fire when a VM's Ops Agent heartbeat is absent for alert_absent_minutes."
  }

  assert {
    condition     = length(google_monitoring_notification_channel.email) == 0 && alltrue([for p in concat(values(google_monitoring_alert_policy.promql), [google_monitoring_alert_policy.vm_down]) : length(coalesce(p.notification_channels, [])) == 0])
    error_message = "With alert_email empty there is no notification channel."
  }
}

run "alerts_go_to_the_email_channel" {
  command = plan

  variables {
    alert_email       = "oncall@example.com"
    alert_lag_records = 500
  }

  assert {
    condition     = length(google_monitoring_notification_channel.email) == 1 && google_monitoring_notification_channel.email[0].type == "email" && google_monitoring_notification_channel.email[0].labels["email_address"] == "oncall@example.com"
    error_message = "alert_email must create one e-mail notification channel to that address."
  }

  assert {
    condition     = alltrue([for p in concat(values(google_monitoring_alert_policy.promql), [google_monitoring_alert_policy.vm_down]) : length(p.notification_channels) == 1])
    error_message = "Every alert policy must notify the e-mail channel."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["consumer_lag"].conditions[0].condition_prometheus_query_language[0].query, "> 500")
    error_message = "alert_lag_records must set the lag threshold."
  }
}

# --- The lake, queryable.

run "bigquery_external_table" {
  command = plan

  assert {
    condition     = google_bigquery_dataset.lake.dataset_id == "turnstile" && google_bigquery_dataset.lake.location == "us-central1"
    error_message = "The dataset must be `turnstile`, in the bucket's location."
  }

  assert {
    condition     = google_bigquery_table.windows.external_data_configuration[0].source_uris == tolist(["gs://demo-project-123-turnstile-lake/turnstile/*.csv.gz"])
    error_message = "The external table must read gs://BUCKET/turnstile/*.csv.gz."
  }

  assert {
    condition = (
      google_bigquery_table.windows.external_data_configuration[0].source_format == "CSV" &&
      google_bigquery_table.windows.external_data_configuration[0].compression == "GZIP" &&
      google_bigquery_table.windows.external_data_configuration[0].csv_options[0].skip_leading_rows == 1 &&
      google_bigquery_table.windows.external_data_configuration[0].autodetect == false
    )
    error_message = "The external table must be CSV, GZIP, with one header row skipped and an explicit schema (no autodetect)."
  }

  assert {
    condition = (
      [for c in jsondecode(google_bigquery_table.windows.external_data_configuration[0].schema) : c.name] ==
      ["idx", "CA", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "TIME", "DESC", "ENTRIES", "EXITS"] &&
      jsondecode(google_bigquery_table.windows.external_data_configuration[0].schema)[0].type == "INTEGER"
    )
    error_message = "The schema must list the leading index column and then the file's columns in order."
  }

  assert {
    condition     = length(google_bigquery_table.windows_by_day) == 0
    error_message = "The hive table exists only with lake_layout = hive."
  }

  assert {
    condition     = contains(keys(google_project_service.this), "bigquery.googleapis.com") && google_bigquery_table.windows.deletion_protection == true
    error_message = "The BigQuery API must be enabled, and the table protected by default (bigquery_deletion_protection)."
  }
}

run "bigquery_hive_table" {
  command = plan

  variables {
    lake_layout = "hive"
  }

  assert {
    condition = (
      length(google_bigquery_table.windows_by_day) == 1 &&
      google_bigquery_table.windows_by_day[0].external_data_configuration[0].hive_partitioning_options[0].source_uri_prefix == "gs://demo-project-123-turnstile-lake/turnstile/{dt:DATE}" &&
      google_bigquery_table.windows_by_day[0].external_data_configuration[0].source_uris == tolist(["gs://demo-project-123-turnstile-lake/turnstile/dt=*"]) &&
      google_bigquery_table.windows_by_day[0].external_data_configuration[0].csv_options[0].skip_leading_rows == 1 &&
      google_bigquery_table.windows_by_day[0].external_data_configuration[0].compression == "GZIP"
    )
    error_message = "lake_layout = hive must add a table partitioned on dt (DATE) over gs://BUCKET/turnstile/dt=*."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "LAKE_SINK=gs://demo-project-123-turnstile-lake/turnstile?layout=hive\n")
    error_message = "lake_layout = hive must make the consumer write the hive layout."
  }
}

# --- Scale out.

run "three_consumers_in_one_group" {
  command = plan

  variables {
    consumer_count   = 3
    kafka_partitions = 6
  }

  assert {
    condition     = toset([for k, vm in google_compute_instance.vm : vm.name if startswith(k, "consumer")]) == toset(["turnstile-consumer", "turnstile-consumer-1", "turnstile-consumer-2"])
    error_message = "consumer_count = 3 must give three consumer VMs; the first keeps the name turnstile-consumer."
  }

  assert {
    condition = alltrue([for k, vm in google_compute_instance.vm :
      strcontains(vm.metadata["startup-script"], "CONSUMER_INSTANCE_ID=${vm.name}\n") &&
      strcontains(vm.metadata["startup-script"], "CONSUMER_GROUP=turnstile-consumer\n")
      if startswith(k, "consumer")
    ])
    error_message = "Every consumer VM must join the one group with its own instance ID (its host name)."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_PARTITIONS=6\n")
    error_message = "kafka_partitions must reach topic-init."
  }

  assert {
    condition     = output.consumer_vm_names == "turnstile-consumer turnstile-consumer-1 turnstile-consumer-2" && output.github_variables.CONSUMER_VM_NAMES == output.consumer_vm_names
    error_message = "consumer_vm_names (and CONSUMER_VM_NAMES) must list every consumer VM."
  }
}

run "rejects_fewer_partitions_than_consumers" {
  command = plan

  variables {
    consumer_count   = 4
    kafka_partitions = 3
  }

  expect_failures = [var.kafka_partitions]
}

# --- The deployer identity, when Terraform manages it.

run "deployer_identity" {
  command = plan

  variables {
    github_repository          = "acme/turnstile-stream"
    github_repository_id       = "123456789"
    github_repository_owner_id = "987654"
  }

  assert {
    condition = (
      google_iam_workload_identity_pool_provider.github[0].attribute_condition == "assertion.repository_id == '123456789' && assertion.repository_owner_id == '987654' && assertion.repository == 'acme/turnstile-stream'" &&
      google_iam_workload_identity_pool_provider.github[0].oidc[0].issuer_uri == "https://token.actions.githubusercontent.com"
    )
    error_message = "The provider must accept only GitHub Actions tokens of the repository."
  }

  assert {
    condition     = endswith(google_service_account_iam_member.deployer_wif[0].member, "/subject/repo:acme/turnstile-stream:environment:production") && google_service_account_iam_member.deployer_wif[0].role == "roles/iam.workloadIdentityUser"
    error_message = "Only the repository's jobs in the production environment may impersonate the deployer."
  }

  assert {
    condition = (
      length(google_compute_instance_iam_member.deployer_os_admin) == 3 &&
      alltrue([for m in google_compute_instance_iam_member.deployer_os_admin : m.role == "roles/compute.osAdminLogin" && m.member == "serviceAccount:turnstile-deployer@demo-project-123.iam.gserviceaccount.com"])
    )
    error_message = "compute.osAdminLogin must be granted on each turnstile instance."
  }

  assert {
    condition     = !contains([for m in google_project_iam_member.deployer_viewer : m.role], "roles/compute.osAdminLogin") && !anytrue([for m in google_project_iam_member.vm : m.role == "roles/compute.osAdminLogin"])
    error_message = "No project-wide compute.osAdminLogin."
  }

  assert {
    condition     = length(google_iap_tunnel_instance_iam_member.deployer_tunnel) == 3 && google_artifact_registry_repository_iam_member.deployer_writer[0].role == "roles/artifactregistry.writer"
    error_message = "The deployer needs IAP tunnelling on each instance and write access to the registry."
  }

  assert {
    condition = (
      length(google_service_account_iam_member.deployer_act_as_vm) == 3 &&
      alltrue([for m in google_service_account_iam_member.deployer_act_as_vm : m.role == "roles/iam.serviceAccountUser"]) &&
      google_project_iam_member.deployer_viewer[0].role == "roles/compute.viewer"
    )
    error_message = "The deployer must act as each VM service account (SSH to a VM that runs as one) and read compute resources, nothing broader."
  }

  assert {
    condition     = contains(keys(google_project_service.this), "sts.googleapis.com") && contains(keys(google_project_service.this), "iamcredentials.googleapis.com")
    error_message = "Managing the deployer must enable the token exchange APIs (sts, iamcredentials)."
  }

  assert {
    condition     = contains(keys(output.github_variables), "WIF_PROVIDER") && output.github_variables.DEPLOY_SERVICE_ACCOUNT == "turnstile-deployer@demo-project-123.iam.gserviceaccount.com"
    error_message = "github_variables must include WIF_PROVIDER and DEPLOY_SERVICE_ACCOUNT when Terraform manages them."
  }
}

run "no_deployer_by_default" {
  command = plan

  assert {
    condition     = length(google_iam_workload_identity_pool.github) == 0 && length(google_service_account.deployer) == 0 && length(google_compute_instance_iam_member.deployer_os_admin) == 0
    error_message = "Without github_repository, the deployer identity is left to the gcloud setup."
  }
}

# --- A first apply on an empty project (issue 21): no VM has reported a
# metric, no app image has been built, nothing is deployed. Every resource
# that depends on a metric or an image must be safe to create now.

run "first_apply_on_an_empty_project" {
  command = plan

  # Cloud Monitoring refuses a PromQL policy whose metrics do not exist yet,
  # unless metric validation is off.
  assert {
    condition = alltrue(flatten([for p in google_monitoring_alert_policy.promql : [
      for c in p.conditions : [for q in c.condition_prometheus_query_language : q.disable_metric_validation == true]
    ]]))
    error_message = "Every PromQL condition must set disable_metric_validation = true: on a first apply none of its metrics exists yet."
  }

  # absent() of a metric that never existed is true at once: such an alert
  # would fire on an empty project, before any deploy.
  assert {
    condition = !anytrue(flatten([for p in google_monitoring_alert_policy.promql : [
      for c in p.conditions : [for q in c.condition_prometheus_query_language : strcontains(q.query, "absent(") || strcontains(q.query, "absent_over_time(")]
    ]]))
    error_message = "No PromQL alert may use absent()/absent_over_time(): it fires on a project where no app has been deployed yet."
  }

  # The one non-PromQL condition watches a built-in metric, which exists in
  # every project; user-defined or Prometheus metric types need PromQL with
  # validation off.
  assert {
    condition     = alltrue([for c in google_monitoring_alert_policy.vm_down.conditions : alltrue([for a in c.condition_absent : startswith(regex("metric.type = \"([^\"]+)\"", a.filter)[0], "agent.googleapis.com/")])])
    error_message = "The VM-down alert must watch the built-in agent.googleapis.com metric."
  }

  # Images: the app VMs start nothing before the first deploy (no images.env),
  # a failed `up` at boot is not fatal, and the Kafka VM's image comes
  # through the remote repository that this same apply creates.
  assert {
    condition = alltrue([for vm in google_compute_instance.vm : alltrue([for needle in [
      "no app images deployed to this VM yet",
      "if ! \"$APP_DIR/bin/turnstile-up\" up; then",
      ] : strcontains(vm.metadata["startup-script"], needle)])
    ])
    error_message = "Before the first deploy, an app VM must start no app (no images.env) and a failed `up` at boot must not stop the startup script."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_IMAGE=us-central1-docker.pkg.dev/demo-project-123/${google_artifact_registry_repository.dockerhub.repository_id}/apache/kafka:4.1.0\n")
    error_message = "The Kafka VM must pull its broker image through the Docker Hub remote repository created by this apply."
  }

  # The readiness probe writes nothing before the first deploy, so the
  # not-ready alert stays quiet on an empty project.
  assert {
    condition     = strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "[[ -f \"$APP_DIR/images.env\" ]] || return 0")
    error_message = "The readiness probe must stay silent until an app is deployed."
  }
}

# --- Docker Hub only through Artifact Registry.

run "docker_hub_through_a_remote_repository" {
  command = plan

  assert {
    condition = (
      google_artifact_registry_repository.dockerhub.mode == "REMOTE_REPOSITORY" &&
      google_artifact_registry_repository.dockerhub.format == "DOCKER" &&
      google_artifact_registry_repository.dockerhub.remote_repository_config[0].docker_repository[0].public_repository == "DOCKER_HUB" &&
      google_artifact_registry_repository.dockerhub.location == "us-central1"
    )
    error_message = "A remote Docker repository with Docker Hub upstream must exist in the VMs' region."
  }

  assert {
    condition = alltrue([for k in ["consumer", "producer"] :
      strcontains(google_compute_instance.vm[k].metadata["startup-script"], "CONFIG_INIT_IMAGE=us-central1-docker.pkg.dev/demo-project-123/dockerhub/library/busybox:1.37.0\n")
    ])
    error_message = "The app VMs must pull busybox (client-config) through the remote repository, pinned to an exact tag."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_IMAGE=us-central1-docker.pkg.dev/demo-project-123/dockerhub/apache/kafka:4.1.0\n")
    error_message = "The Kafka VM must pull apache/kafka through the remote repository, pinned to an exact tag."
  }

  # Docker logs in to the registry host on every VM, Kafka's included.
  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : strcontains(vm.metadata["startup-script"], "readonly REGISTRY_HOST='us-central1-docker.pkg.dev'")])
    error_message = "Every VM must log Docker in to Artifact Registry before it pulls."
  }

  assert {
    condition     = toset(keys(google_artifact_registry_repository_iam_member.dockerhub_reader)) == toset(["kafka", "consumer", "producer"]) && alltrue([for m in google_artifact_registry_repository_iam_member.dockerhub_reader : m.role == "roles/artifactregistry.reader" && m.repository == "dockerhub"])
    error_message = "Every VM's account needs read on the Docker Hub remote repository, and only read."
  }
}

run "third_party_images_pinned_by_digest" {
  command = plan

  variables {
    kafka_image = "apache/kafka@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_IMAGE=us-central1-docker.pkg.dev/demo-project-123/dockerhub/apache/kafka@sha256:0000000000000000000000000000000000000000000000000000000000000000\n")
    error_message = "kafka_image pinned by digest must reach the Kafka VM."
  }
}

run "rejects_an_unpinned_third_party_image" {
  command = plan

  variables {
    kafka_image       = "apache/kafka:latest"
    config_init_image = "busybox"
  }

  expect_failures = [var.kafka_image, var.config_init_image]
}

# --- Kafka's exposure.

run "kafka_listener_on_the_internal_address" {
  command = plan

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_BIND_ADDRESS=10.10.0.10\n")
    error_message = "Kafka's client listener must be published on the VM's internal address, not 0.0.0.0."
  }

  assert {
    condition = (
      google_compute_firewall.kafka_deny_others[0].priority < 65534 &&
      google_compute_firewall.kafka_from_apps[0].priority < google_compute_firewall.kafka_deny_others[0].priority &&
      google_compute_firewall.kafka_deny_others[0].source_ranges == toset(["0.0.0.0/0"]) &&
      google_compute_firewall.kafka_deny_others[0].target_service_accounts == toset(["turnstile-kafka@demo-project-123.iam.gserviceaccount.com"]) &&
      alltrue([for d in google_compute_firewall.kafka_deny_others[0].deny : d.protocol == "tcp" && d.ports == tolist(["9092"])]) &&
      length(google_compute_firewall.kafka_deny_others[0].allow) == 0
    )
    error_message = "A deny rule on Kafka's port for every other source must sit between the app VMs' allow and any permissive rule such as default-allow-internal (65534)."
  }
}

run "kafka_closed_on_the_default_network" {
  command = plan

  variables {
    create_network    = false
    network           = "default"
    subnetwork        = "default"
    kafka_internal_ip = "10.128.0.50"
  }

  assert {
    condition = (
      google_compute_firewall.kafka_deny_others[0].network == "default" &&
      google_compute_firewall.kafka_from_apps[0].network == "default" &&
      google_compute_firewall.kafka_deny_others[0].priority < 65534
    )
    error_message = "On the default network, the deny rule must override default-allow-internal (priority 65534) for Kafka's port."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["kafka"].metadata["startup-script"], "KAFKA_BIND_ADDRESS=10.128.0.50\n")
    error_message = "Kafka must bind to its reserved internal address on an existing network too."
  }
}

# --- Workload identity by repository ID.

run "deployer_needs_repository_ids" {
  command = plan

  variables {
    github_repository = "acme/turnstile-stream"
  }

  expect_failures = [var.github_repository_id, var.github_repository_owner_id]
}

# --- Least privilege: each VM's account, only what the VM uses.

run "each_service_account_only_its_roles" {
  command = plan

  assert {
    condition = (
      !contains(keys(google_artifact_registry_repository_iam_member.vm_reader), "kafka") &&
      toset([for m in google_artifact_registry_repository_iam_member.dockerhub_reader : m.member if m.member == "serviceAccount:turnstile-kafka@demo-project-123.iam.gserviceaccount.com"]) == toset(["serviceAccount:turnstile-kafka@demo-project-123.iam.gserviceaccount.com"])
    )
    error_message = "The Kafka VM's account reads only the Docker Hub remote repository (its broker image), not the app image repository."
  }

  assert {
    condition = toset(concat(
      [for m in google_project_iam_member.vm : "${m.member} ${m.role}"],
      [for m in google_artifact_registry_repository_iam_member.vm_reader : "${m.member} ${m.repository} ${m.role}"],
      [for m in google_artifact_registry_repository_iam_member.dockerhub_reader : "${m.member} ${m.repository} ${m.role}"],
      [google_storage_bucket_iam_member.consumer_writer.member],
      )) == toset([
      "serviceAccount:turnstile-kafka@demo-project-123.iam.gserviceaccount.com roles/logging.logWriter",
      "serviceAccount:turnstile-kafka@demo-project-123.iam.gserviceaccount.com roles/monitoring.metricWriter",
      "serviceAccount:turnstile-kafka@demo-project-123.iam.gserviceaccount.com dockerhub roles/artifactregistry.reader",
      "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com roles/logging.logWriter",
      "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com roles/monitoring.metricWriter",
      "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com turnstile roles/artifactregistry.reader",
      "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com dockerhub roles/artifactregistry.reader",
      "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com roles/logging.logWriter",
      "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com roles/monitoring.metricWriter",
      "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com turnstile roles/artifactregistry.reader",
      "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com dockerhub roles/artifactregistry.reader",
      "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com",
    ])
    error_message = "The VMs' accounts must hold exactly the grants listed in docs/deploy.md (Service accounts and their roles), no more."
  }
}

# --- First boot: a failed Ops Agent install.

run "ops_agent_failure_does_not_stop_the_apps" {
  command = plan

  assert {
    condition = alltrue([for vm in google_compute_instance.vm :
      strcontains(vm.metadata["startup-script"], "configure_docker\nops_agent\nwrite_files\n") &&
      strcontains(vm.metadata["startup-script"], "if install_ops_agent; then") &&
      strcontains(vm.metadata["startup-script"], "log \"turnstile-ops-agent-install-failed:")
    ])
    error_message = "The startup script must run the Ops Agent install through ops_agent, which logs and counts a failure and carries on."
  }

  assert {
    condition = (
      strcontains(google_logging_metric.this["agent_install_failed"].filter, "turnstile-ops-agent-install-failed") &&
      google_logging_metric.this["agent_install_failed"].metric_descriptor[0].metric_kind == "DELTA" &&
      strcontains(google_monitoring_alert_policy.promql["agent_install_failed"].conditions[0].condition_prometheus_query_language[0].query, "logging_googleapis_com:user_turnstile_ops_agent_install_failed")
    )
    error_message = "A failed Ops Agent install must be counted by a log-based metric and alerted on."
  }
}

# --- The alerts of issue 21, each with its threshold variable.

run "alerts_paused_not_ready_and_agent" {
  command = plan

  variables {
    alert_paused_minutes       = 12
    alert_not_ready_minutes    = 6
    alert_agent_absent_minutes = 7
  }

  assert {
    condition = (
      google_monitoring_alert_policy.promql["partitions_paused"].conditions[0].condition_prometheus_query_language[0].query == "max by (vm) (turnstile_consumer_partitions_paused) > 0" &&
      google_monitoring_alert_policy.promql["partitions_paused"].conditions[0].condition_prometheus_query_language[0].duration == "720s"
    )
    error_message = "The paused-partitions alert must fire when a consumer keeps a partition paused for alert_paused_minutes."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.promql["not_ready"].conditions[0].condition_prometheus_query_language[0].query, "increase(logging_googleapis_com:user_turnstile_not_ready{monitored_resource=\"gce_instance\"}[6m])) >= 5") &&
      strcontains(google_logging_metric.this["not_ready"].filter, "log_id(\"turnstile_readyz\")") &&
      strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "include_paths: [$PROBE_LOG]") &&
      strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "ExecStart=$APP_DIR/bin/turnstile-up probe")
    )
    error_message = "The not-ready alert must count the readiness probe's not-ready lines (shipped by the Ops Agent) over alert_not_ready_minutes."
  }

  assert {
    condition = (
      google_monitoring_alert_policy.vm_down.conditions[0].condition_absent[0].duration == "420s" &&
      strcontains(google_monitoring_alert_policy.vm_down.conditions[0].condition_absent[0].filter, "agent.googleapis.com/agent/uptime")
    )
    error_message = "The Ops Agent alert must fire after alert_agent_absent_minutes without a heartbeat."
  }
}

# --- kafka_backend (kafka.tf): what each backend creates, and refuses. The
# client settings are read from the vm.env section of the startup script
# (between <<'ENV_EOF' and ENV_EOF), not from the compose file it embeds.

run "vm_backend_is_the_default" {
  command = plan

  assert {
    condition     = length(google_managed_kafka_cluster.this) == 0 && length(google_managed_kafka_topic.this) == 0 && length(google_project_iam_member.managed_kafka_client) == 0 && length(google_secret_manager_secret_iam_member.kafka_sasl_password) == 0
    error_message = "The vm backend must create no managed cluster, topics, managedkafka.client grants or secret grants."
  }

  assert {
    condition     = length(google_compute_disk.kafka_data) == 1 && length(google_compute_address.kafka) == 1 && length(google_compute_firewall.kafka_from_apps) == 1 && length(google_compute_firewall.kafka_deny_others) == 1 && contains(keys(google_compute_instance.vm), "kafka")
    error_message = "The vm backend must keep the Kafka VM, its disk, address and both firewall rules."
  }

  # The app VMs' vm.env is what it was before kafka_backend: no client
  # settings (client-config's default is PLAINTEXT), so an apply changes nothing.
  assert {
    condition = alltrue([
      for r in ["consumer", "producer"] :
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[r].metadata["startup-script"])), "KAFKA_BOOTSTRAP=10.10.0.10:9092\n") &&
      !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[r].metadata["startup-script"])), "KAFKA_SECURITY_PROTOCOL=") &&
      !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[r].metadata["startup-script"])), "KAFKA_SASL")
    ])
    error_message = "With the vm backend the app VMs must point at the Kafka VM with no SASL settings."
  }

  assert {
    condition     = output.kafka_backend == "vm" && output.github_variables.KAFKA_BACKEND == "vm" && output.github_variables.KAFKA_VM_NAME == "turnstile-kafka" && output.managed_kafka_cluster == null
    error_message = "github_variables must carry KAFKA_BACKEND = vm and the Kafka VM's name."
  }
}

run "managed_backend" {
  command = plan

  variables {
    kafka_backend    = "managed"
    consumer_count   = 2
    kafka_partitions = 4
  }

  assert {
    condition     = toset(keys(google_compute_instance.vm)) == toset(["producer", "consumer", "consumer-1"])
    error_message = "The managed backend must create the producer and consumer VMs and no Kafka VM."
  }

  assert {
    condition     = length(google_compute_disk.kafka_data) == 0 && length(google_compute_address.kafka) == 0 && length(google_compute_firewall.kafka_from_apps) == 0 && length(google_compute_firewall.kafka_deny_others) == 0
    error_message = "The managed backend must create no Kafka data disk, address or Kafka firewall rule."
  }

  assert {
    condition     = toset(keys(google_service_account.vm)) == toset(["consumer", "producer"]) && google_compute_firewall.iap_ssh.target_tags == toset(["turnstile-consumer", "turnstile-producer"])
    error_message = "Without a Kafka VM there must be no Kafka service account or tag."
  }

  assert {
    condition = (
      google_managed_kafka_cluster.this[0].cluster_id == "turnstile-kafka" &&
      google_managed_kafka_cluster.this[0].location == "us-central1" &&
      google_managed_kafka_cluster.this[0].capacity_config[0].vcpu_count == "3" &&
      google_managed_kafka_cluster.this[0].capacity_config[0].memory_bytes == "3221225472"
    )
    error_message = "The cluster must be PREFIX-kafka in var.region with managed_kafka_capacity (3 vCPUs, 3 GiB by default)."
  }

  assert {
    condition = (
      google_managed_kafka_topic.this["records"].topic_id == "mta-turnstile" &&
      google_managed_kafka_topic.this["records"].partition_count == 4 &&
      google_managed_kafka_topic.this["windows"].topic_id == "mta-turnstile-windows" &&
      google_managed_kafka_topic.this["windows"].partition_count == 1 &&
      alltrue([for tp in google_managed_kafka_topic.this : tp.replication_factor == 3 && tp.cluster == "turnstile-kafka" && tp.location == "us-central1"])
    )
    error_message = "Both topics must be on the cluster with replication factor 3: the records with kafka_partitions partitions, the windows with one (as topic-init makes them)."
  }

  assert {
    condition = (
      toset([for m in google_project_iam_member.managed_kafka_client : m.member]) == toset(["serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com", "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com"]) &&
      alltrue([for m in google_project_iam_member.managed_kafka_client : m.role == "roles/managedkafka.client"]) &&
      length([for m in google_project_iam_member.vm : m if strcontains(m.role, "managedkafka")]) == 0
    )
    error_message = "roles/managedkafka.client must go to the producer's and the consumers' service accounts, and to nobody else."
  }

  assert {
    condition     = contains(keys(google_project_service.this), "managedkafka.googleapis.com") && !contains(keys(google_project_service.this), "secretmanager.googleapis.com")
    error_message = "The managed backend must enable managedkafka.googleapis.com (and not Secret Manager)."
  }

  assert {
    condition     = output.kafka_bootstrap == "bootstrap.turnstile-kafka.us-central1.managedkafka.demo-project-123.cloud.goog:9092"
    error_message = "The bootstrap address must be bootstrap.CLUSTER.REGION.managedkafka.PROJECT.cloud.goog:9092."
  }

  assert {
    condition = alltrue([
      for k in ["producer", "consumer", "consumer-1"] : alltrue([
        for line in [
          "KAFKA_BOOTSTRAP=bootstrap.turnstile-kafka.us-central1.managedkafka.demo-project-123.cloud.goog:9092\n",
          "KAFKA_SECURITY_PROTOCOL=SASL_SSL\n",
          "KAFKA_SASL_MECHANISM=OAUTHBEARER\n",
          "KAFKA_OAUTHBEARER_PROVIDER=gcp\n",
        ] : strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[k].metadata["startup-script"])), line)
      ]) && !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[k].metadata["startup-script"])), "KAFKA_SASL_PASSWORD_SECRET")
    ])
    error_message = "Every app VM's vm.env must carry the managed bootstrap address, SASL_SSL, OAUTHBEARER and the gcp token provider."
  }

  assert {
    condition     = output.github_variables.KAFKA_BACKEND == "managed" && !contains(keys(output.github_variables), "KAFKA_VM_NAME") && output.kafka_vm_name == null && output.kafka_data_disk == null
    error_message = "Without a Kafka VM, github_variables must say KAFKA_BACKEND = managed and carry no KAFKA_VM_NAME."
  }
}

run "managed_backend_subnet" {
  command = plan

  variables {
    kafka_backend  = "managed"
    create_network = false
    subnetwork     = "default"
  }

  assert {
    condition     = google_managed_kafka_cluster.this[0].gcp_config[0].access_config[0].network_configs[0].subnet == "projects/demo-project-123/regions/us-central1/subnetworks/default"
    error_message = "On an existing network the cluster must get its addresses in var.subnetwork, as projects/P/regions/R/subnetworks/NAME."
  }
}

run "managed_backend_subnet_and_bootstrap_overrides" {
  command = plan

  variables {
    kafka_backend          = "managed"
    managed_kafka_subnet   = "projects/net-host-123/regions/us-central1/subnetworks/kafka"
    managed_kafka_capacity = { vcpu_count = 6, memory_bytes = 25769803776 }
    kafka_bootstrap        = "bootstrap-abc.1a2b3c.us-central1.managedkafka.s.cloud.goog:9092"
  }

  assert {
    condition     = google_managed_kafka_cluster.this[0].gcp_config[0].access_config[0].network_configs[0].subnet == "projects/net-host-123/regions/us-central1/subnetworks/kafka"
    error_message = "managed_kafka_subnet must be the cluster's subnet."
  }

  assert {
    condition     = google_managed_kafka_cluster.this[0].capacity_config[0].vcpu_count == "6" && google_managed_kafka_cluster.this[0].capacity_config[0].memory_bytes == "25769803776"
    error_message = "managed_kafka_capacity must set the cluster's capacity."
  }

  assert {
    condition     = output.kafka_bootstrap == "bootstrap-abc.1a2b3c.us-central1.managedkafka.s.cloud.goog:9092" && strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["producer"].metadata["startup-script"])), "KAFKA_BOOTSTRAP=bootstrap-abc.1a2b3c.us-central1.managedkafka.s.cloud.goog:9092\n")
    error_message = "kafka_bootstrap must override the managed cluster's built address."
  }
}

run "managed_backend_keeping_the_kafka_vm" {
  command = plan

  variables {
    kafka_backend     = "managed"
    kafka_vm_retained = true
  }

  assert {
    condition     = contains(keys(google_compute_instance.vm), "kafka") && length(google_compute_disk.kafka_data) == 1 && length(google_compute_address.kafka) == 1 && length(google_compute_firewall.kafka_from_apps) == 1 && length(google_managed_kafka_cluster.this) == 1
    error_message = "kafka_vm_retained must keep the Kafka VM, its disk, address and firewall next to the managed cluster."
  }

  assert {
    condition     = strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["consumer"].metadata["startup-script"])), "KAFKA_BOOTSTRAP=bootstrap.turnstile-kafka.us-central1.managedkafka.demo-project-123.cloud.goog:9092\n")
    error_message = "With kafka_vm_retained the apps must still use the managed cluster."
  }
}

run "external_backend_with_scram" {
  command = plan

  variables {
    kafka_backend              = "external"
    kafka_bootstrap            = "b1.example.com:9093,b2.example.com:9093"
    kafka_sasl_mechanism       = "SCRAM-SHA-512"
    kafka_sasl_username        = "turnstile"
    kafka_sasl_password_secret = "kafka-sasl-password"
  }

  assert {
    condition     = toset(keys(google_compute_instance.vm)) == toset(["producer", "consumer"]) && length(google_compute_disk.kafka_data) == 0 && length(google_compute_address.kafka) == 0 && length(google_compute_firewall.kafka_from_apps) == 0 && length(google_compute_firewall.kafka_deny_others) == 0
    error_message = "The external backend must create no Kafka VM, disk, address or Kafka firewall rule."
  }

  assert {
    condition     = length(google_managed_kafka_cluster.this) == 0 && length(google_managed_kafka_topic.this) == 0 && length(google_project_iam_member.managed_kafka_client) == 0
    error_message = "The external backend must create no managed cluster, topic or managedkafka.client grant."
  }

  assert {
    condition = (
      toset([for m in google_secret_manager_secret_iam_member.kafka_sasl_password : m.member]) == toset(["serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com", "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com"]) &&
      alltrue([for m in google_secret_manager_secret_iam_member.kafka_sasl_password : m.role == "roles/secretmanager.secretAccessor" && m.secret_id == "projects/demo-project-123/secrets/kafka-sasl-password"]) &&
      length([for m in google_project_iam_member.vm : m if strcontains(m.role, "secretmanager")]) == 0
    )
    error_message = "The app accounts must get secretAccessor on the password's secret only, never on the project."
  }

  assert {
    condition = alltrue([
      for k in ["producer", "consumer"] : alltrue([
        for line in [
          "KAFKA_BOOTSTRAP=b1.example.com:9093,b2.example.com:9093\n",
          "KAFKA_SECURITY_PROTOCOL=SASL_SSL\n",
          "KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n",
          "KAFKA_SASL_USERNAME=turnstile\n",
          "KAFKA_SASL_PASSWORD_SECRET=projects/demo-project-123/secrets/kafka-sasl-password/versions/latest\n",
        ] : strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[k].metadata["startup-script"])), line)
      ]) && !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm[k].metadata["startup-script"])), "OAUTHBEARER")
    ])
    error_message = "Every app VM's vm.env must carry the external bootstrap, protocol, mechanism, user name and the secret version's name (never the password)."
  }

  assert {
    condition     = contains(keys(google_project_service.this), "secretmanager.googleapis.com") && !contains(keys(google_project_service.this), "managedkafka.googleapis.com")
    error_message = "The external backend with a secret must enable Secret Manager (and not Managed Kafka)."
  }

  assert {
    condition     = output.kafka_bootstrap == "b1.example.com:9093,b2.example.com:9093" && output.github_variables.KAFKA_BACKEND == "external" && output.kafka_vm_name == null
    error_message = "kafka_bootstrap must be the external cluster's, and github_variables must say KAFKA_BACKEND = external."
  }
}

run "external_backend_secret_in_another_project" {
  command = plan

  variables {
    kafka_backend                      = "external"
    kafka_bootstrap                    = "kafka.internal:9092"
    kafka_sasl_mechanism               = "PLAIN"
    kafka_sasl_username                = "APIKEY123"
    kafka_sasl_password_secret         = "projects/secrets-host-1/secrets/kafka"
    kafka_sasl_password_secret_version = "3"
  }

  assert {
    condition     = alltrue([for m in google_secret_manager_secret_iam_member.kafka_sasl_password : m.secret_id == "projects/secrets-host-1/secrets/kafka"]) && strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["producer"].metadata["startup-script"])), "KAFKA_SASL_PASSWORD_SECRET=projects/secrets-host-1/secrets/kafka/versions/3\n")
    error_message = "A full secret name and a pinned version must reach the grant and vm.env as given."
  }
}

run "external_backend_without_sasl" {
  command = plan

  variables {
    kafka_backend           = "external"
    kafka_bootstrap         = "kafka.internal:9092"
    kafka_security_protocol = "PLAINTEXT"
  }

  assert {
    condition     = length(google_secret_manager_secret_iam_member.kafka_sasl_password) == 0 && !contains(keys(google_project_service.this), "secretmanager.googleapis.com")
    error_message = "Without SASL there must be no secret grant and no Secret Manager API."
  }

  assert {
    condition     = strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["consumer"].metadata["startup-script"])), "KAFKA_SECURITY_PROTOCOL=PLAINTEXT\n") && !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["consumer"].metadata["startup-script"])), "KAFKA_SASL")
    error_message = "Without SASL, vm.env must carry the protocol and no SASL settings."
  }
}

run "rejects_bootstrap_with_the_vm_backend" {
  command = plan

  variables {
    kafka_bootstrap = "b1.example.com:9092"
  }

  expect_failures = [var.kafka_bootstrap]
}

run "rejects_external_without_bootstrap" {
  command = plan

  variables {
    kafka_backend           = "external"
    kafka_security_protocol = "PLAINTEXT"
  }

  expect_failures = [var.kafka_bootstrap]
}

run "rejects_managed_with_fewer_partitions_than_consumers" {
  command = plan

  variables {
    kafka_backend    = "managed"
    consumer_count   = 4
    kafka_partitions = 3
  }

  expect_failures = [var.kafka_partitions]
}

run "rejects_an_unknown_backend" {
  command = plan

  variables {
    kafka_backend = "msk"
  }

  expect_failures = [var.kafka_backend]
}

run "rejects_a_sasl_protocol_without_mechanism" {
  command = plan

  variables {
    kafka_backend   = "external"
    kafka_bootstrap = "kafka.internal:9092"
  }

  expect_failures = [var.kafka_sasl_mechanism]
}

run "rejects_sasl_over_plaintext" {
  command = plan

  variables {
    kafka_backend              = "external"
    kafka_bootstrap            = "kafka.internal:9092"
    kafka_security_protocol    = "SSL"
    kafka_sasl_mechanism       = "PLAIN"
    kafka_sasl_username        = "u"
    kafka_sasl_password_secret = "kafka-pw"
  }

  expect_failures = [var.kafka_sasl_mechanism]
}

run "rejects_sasl_without_the_secret" {
  command = plan

  variables {
    kafka_backend        = "external"
    kafka_bootstrap      = "kafka.internal:9092"
    kafka_sasl_mechanism = "SCRAM-SHA-256"
    kafka_sasl_username  = "u"
  }

  expect_failures = [var.kafka_sasl_password_secret]
}

run "rejects_sasl_settings_with_the_managed_backend" {
  command = plan

  variables {
    kafka_backend              = "managed"
    kafka_sasl_mechanism       = "PLAIN"
    kafka_sasl_username        = "u"
    kafka_sasl_password_secret = "kafka-pw"
  }

  expect_failures = [var.kafka_sasl_mechanism]
}

run "rejects_too_small_a_cluster" {
  command = plan

  variables {
    kafka_backend          = "managed"
    managed_kafka_capacity = { vcpu_count = 2, memory_bytes = 1073741824 }
  }

  expect_failures = [var.managed_kafka_capacity]
}

run "rejects_a_subnet_in_another_region" {
  command = plan

  variables {
    kafka_backend        = "managed"
    managed_kafka_subnet = "projects/demo-project-123/regions/europe-west1/subnetworks/default"
  }

  expect_failures = [var.managed_kafka_subnet]
}

run "rejects_keeping_the_kafka_vm_on_the_vm_backend" {
  command = plan

  variables {
    kafka_vm_retained = true
  }

  expect_failures = [var.kafka_vm_retained]
}

# --- The ridership feed (var.ridership; issue #25).

run "ridership_off_by_default" {
  command = plan

  assert {
    condition = (
      length(google_secret_manager_secret.soda_app_token) == 0 &&
      length(google_secret_manager_secret_iam_member.producer_soda_app_token) == 0 &&
      length(google_bigquery_table.ridership) == 0 &&
      length(google_bigquery_table.ridership_by_day) == 0 &&
      !contains(keys(google_project_service.this), "secretmanager.googleapis.com")
    )
    error_message = "Without var.ridership there must be no SODA secret, no grant on it, no ridership tables and no Secret Manager API."
  }

  assert {
    condition = alltrue([for vm in google_compute_instance.vm :
      !strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", vm.metadata["startup-script"])), "RIDERSHIP_") &&
      !strcontains(vm.metadata["startup-script"], "readonly RIDERSHIP_METRICS_PORT") &&
      strcontains(vm.metadata["startup-script"], "readonly SODA_APP_TOKEN_SECRET=''\n")
    ])
    error_message = "Without var.ridership no VM may get ridership settings or a token secret to read."
  }

  assert {
    condition     = strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "readonly COMPOSE_PROFILE='consumer'\n") && strcontains(google_compute_instance.vm["producer"].metadata["startup-script"], "readonly COMPOSE_PROFILE='producer'\n")
    error_message = "Without var.ridership the app VMs start only their turnstile profile."
  }
}

run "ridership_feed" {
  command = plan

  variables {
    ridership = {}
  }

  assert {
    condition     = google_bigquery_table.ridership[0].table_id == "ridership_windows" && google_bigquery_table.ridership[0].external_data_configuration[0].source_uris == tolist(["gs://demo-project-123-turnstile-lake/ridership/*.csv.gz"])
    error_message = "The ridership table must read every window file under ridership/ of the lake bucket."
  }

  assert {
    condition = (
      google_bigquery_table.ridership[0].external_data_configuration[0].source_format == "CSV" &&
      google_bigquery_table.ridership[0].external_data_configuration[0].compression == "GZIP" &&
      google_bigquery_table.ridership[0].external_data_configuration[0].csv_options[0].skip_leading_rows == 1 &&
      google_bigquery_table.ridership[0].external_data_configuration[0].autodetect == false &&
      google_bigquery_table.ridership[0].deletion_protection == true
    )
    error_message = "The ridership table reads gzipped CSV with one header row and an explicit schema, protected like the turnstile table."
  }

  assert {
    condition = (
      [for c in jsondecode(google_bigquery_table.ridership[0].external_data_configuration[0].schema) : "${c.name}:${c.type}"] ==
      ["station_complex_id:STRING", "station_complex:STRING", "borough:STRING", "payment_method:STRING", "fare_class_category:STRING", "window_start:DATETIME", "window_end:DATETIME", "ridership:INT64", "transfers:INT64"]
    )
    error_message = "The ridership schema must be the window file header of docs/lake.md, in order, with DATETIME windows and INT64 sums (no index column)."
  }

  assert {
    condition     = length(google_bigquery_table.ridership_by_day) == 0
    error_message = "The flat layout has no partitioned ridership table."
  }

  assert {
    condition = (
      google_secret_manager_secret.soda_app_token[0].secret_id == "turnstile-soda-app-token" &&
      length(google_secret_manager_secret.soda_app_token[0].replication[0].auto) == 1 &&
      contains(keys(google_project_service.this), "secretmanager.googleapis.com")
    )
    error_message = "The feed must create the secret PREFIX-soda-app-token (automatic replication) and enable Secret Manager."
  }

  assert {
    condition = (
      length(google_secret_manager_secret_iam_member.producer_soda_app_token) == 1 &&
      google_secret_manager_secret_iam_member.producer_soda_app_token[0].member == "serviceAccount:turnstile-producer@demo-project-123.iam.gserviceaccount.com" &&
      google_secret_manager_secret_iam_member.producer_soda_app_token[0].role == "roles/secretmanager.secretAccessor" &&
      google_secret_manager_secret_iam_member.producer_soda_app_token[0].secret_id == "projects/demo-project-123/secrets/turnstile-soda-app-token" &&
      length(google_secret_manager_secret_iam_member.kafka_sasl_password) == 0 &&
      length([for m in google_project_iam_member.vm : m if strcontains(m.role, "secretmanager")]) == 0
    )
    error_message = "Only the producer's account may read the SODA secret, on that secret only, never on the project."
  }

  assert {
    condition     = google_storage_bucket_iam_member.consumer_writer.member == "serviceAccount:turnstile-consumer@demo-project-123.iam.gserviceaccount.com" && google_storage_bucket_iam_member.consumer_writer.role == "projects/demo-project-123/roles/turnstile_lake_writer"
    error_message = "The feed must not change the lake grant: the consumer's account keeps the lake-writer role, alone."
  }

  assert {
    condition = (
      strcontains(google_compute_instance.vm["producer"].metadata["startup-script"], "readonly COMPOSE_PROFILE='producer producer-ridership'\n") &&
      strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "readonly COMPOSE_PROFILE='consumer consumer-ridership'\n") &&
      strcontains(google_compute_instance.vm["producer"].metadata["startup-script"], "readonly SODA_APP_TOKEN_SECRET='projects/demo-project-123/secrets/turnstile-soda-app-token/versions/latest'\n") &&
      strcontains(google_compute_instance.vm["consumer"].metadata["startup-script"], "readonly SODA_APP_TOKEN_SECRET=''\n")
    )
    error_message = "Each app VM must add its ridership profile, and only the producer VM may read the token's secret."
  }

  assert {
    condition = (
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["producer"].metadata["startup-script"])), "RIDERSHIP_DATASET=5wq4-mkjj\nRIDERSHIP_METRICS_PORT=9091\nRIDERSHIP_POLL_INTERVAL=5m\nRIDERSHIP_STATE_DIR=/var/lib/turnstile/ridership\nRIDERSHIP_TOPIC=mta-ridership\nSODA_SECRETS_DIR=/var/lib/turnstile/secrets\n") &&
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["consumer"].metadata["startup-script"])), "RIDERSHIP_CONSUMER_GROUP=turnstile-consumer-ridership\nRIDERSHIP_LAKE_SINK=gs://demo-project-123-turnstile-lake/ridership\nRIDERSHIP_METRICS_PORT=9091\nRIDERSHIP_TOPIC=mta-ridership\nRIDERSHIP_WINDOW_DURATION=60\nRIDERSHIP_WINDOW_SLIDE=60\n") &&
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["kafka"].metadata["startup-script"])), "RIDERSHIP_TOPIC=mta-ridership\n")
    )
    error_message = "vm.env must carry the ridership settings: dataset, poll interval, cursor folder and token file on the producer; group, sink and hourly windows on the consumer; the topic for topic-init on the Kafka VM."
  }

  assert {
    condition     = alltrue([for vm in google_compute_instance.vm : !strcontains(vm.metadata["startup-script"], "SODA_APP_TOKEN=")])
    error_message = "No startup script may carry a token value (only the secret's version name)."
  }

  assert {
    condition     = output.ridership_lake_sink == "gs://demo-project-123-turnstile-lake/ridership" && contains(output.bigquery_tables, "demo-project-123.turnstile.ridership_windows")
    error_message = "The outputs must name the ridership sink and table."
  }
}

run "ridership_hive_table" {
  command = plan

  variables {
    lake_layout = "hive"
    ridership = {
      dataset       = "wujg-7c2s"
      poll_interval = "1h"
    }
  }

  assert {
    condition = (
      length(google_bigquery_table.ridership_by_day) == 1 &&
      google_bigquery_table.ridership_by_day[0].table_id == "ridership_windows_by_day" &&
      google_bigquery_table.ridership_by_day[0].external_data_configuration[0].source_uris == tolist(["gs://demo-project-123-turnstile-lake/ridership/dt=*"]) &&
      google_bigquery_table.ridership_by_day[0].external_data_configuration[0].hive_partitioning_options[0].source_uri_prefix == "gs://demo-project-123-turnstile-lake/ridership/{dt:DATE}" &&
      google_bigquery_table.ridership_by_day[0].external_data_configuration[0].hive_partitioning_options[0].mode == "CUSTOM" &&
      google_bigquery_table.ridership_by_day[0].external_data_configuration[0].csv_options[0].skip_leading_rows == 1 &&
      google_bigquery_table.ridership_by_day[0].external_data_configuration[0].compression == "GZIP"
    )
    error_message = "With lake_layout = hive the ridership files must get a table partitioned on dt from the dt=YYYY-MM-DD folders."
  }

  assert {
    condition = (
      [for c in jsondecode(google_bigquery_table.ridership_by_day[0].external_data_configuration[0].schema) : "${c.name}:${c.type}"] ==
      ["station_complex_id:STRING", "station_complex:STRING", "borough:STRING", "payment_method:STRING", "fare_class_category:STRING", "window_start:DATETIME", "window_end:DATETIME", "ridership:INT64", "transfers:INT64"]
    )
    error_message = "The partitioned ridership table must have the same schema as the flat one."
  }

  assert {
    condition = (
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["consumer"].metadata["startup-script"])), "RIDERSHIP_LAKE_SINK=gs://demo-project-123-turnstile-lake/ridership?layout=hive\n") &&
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["producer"].metadata["startup-script"])), "RIDERSHIP_DATASET=wujg-7c2s\n") &&
      strcontains(one(regex("<<'ENV_EOF'\\n((?s:.*?)\\n)ENV_EOF", google_compute_instance.vm["producer"].metadata["startup-script"])), "RIDERSHIP_POLL_INTERVAL=1h\n")
    )
    error_message = "The ridership sink must follow lake_layout, and the producer the dataset and poll interval of var.ridership."
  }
}

run "ridership_on_the_managed_backend" {
  command = plan

  variables {
    kafka_backend = "managed"
    ridership     = {}
  }

  assert {
    condition     = google_managed_kafka_topic.this["ridership"].topic_id == "mta-ridership" && google_managed_kafka_topic.this["ridership"].partition_count == 3 && google_managed_kafka_topic.this["ridership"].replication_factor == 3
    error_message = "On the managed cluster Terraform must create mta-ridership, with kafka_partitions partitions, replicated three times."
  }
}

run "rejects_a_bad_ridership_dataset" {
  command = plan

  variables {
    ridership = { dataset = "https://data.ny.gov/resource/5wq4-mkjj.json" }
  }

  expect_failures = [var.ridership]
}

run "rejects_a_bad_ridership_poll_interval" {
  command = plan

  variables {
    ridership = { poll_interval = "5 minutes" }
  }

  expect_failures = [var.ridership]
}

run "rejects_a_ridership_slide_longer_than_the_window" {
  command = plan

  variables {
    ridership = { window_minutes = { duration = 60, slide = 120 } }
  }

  expect_failures = [var.ridership]
}
