# Alert policies on the apps' Prometheus metrics, which the Ops Agent on each
# app VM scrapes from 127.0.0.1:9090/metrics and sends to Cloud Monitoring
# (startup.sh.tftpl). Conditions are PromQL; each series carries the labels
# vm (the VM name) and role that the scrape config adds. Thresholds are
# variables, documented in variables.tf and docs/deploy.md ("Alerts").
#
# A first apply runs on a project where none of these metrics exists yet: the
# app VMs start no app before the first deploy, and the log-based metrics
# below have no data before their first matching line. Cloud Monitoring
# checks that a PromQL query's metrics exist when it creates the policy,
# unless disable_metric_validation is set, so every PromQL condition sets it.
# The one non-PromQL condition (vm_down) watches a built-in agent metric.

locals {
  alert_channels = google_monitoring_notification_channel.email[*].name

  # A counter each app always exports (from its first scrape on).
  liveness_metrics = ["turnstile_consumer_records_in_total", "turnstile_producer_sent_total"]

  alert_docs = "turnstile-stream runbook: docs/deploy.md, section \"Alerts\". VMs: ${join(", ", [for vm in local.vms : vm.name])}."

  # name => PromQL condition (evaluated every minute; fires after `for`).
  promql_alerts = {
    consumer_lag = {
      display = "turnstile: consumer lag growing"
      query   = "(sum by (vm) (turnstile_consumer_lag) > ${var.alert_lag_records}) and (sum by (vm) (delta(turnstile_consumer_lag[${var.alert_lag_minutes}m])) > 0)"
      for     = "${var.alert_lag_minutes * 60}s"
      about   = "A consumer's total lag is above ${var.alert_lag_records} records and grew over the last ${var.alert_lag_minutes} minutes: it reads slower than the producer writes, or is stuck."
    }
    stalled = {
      display = "turnstile: pipeline stalled (watermark not advancing)"
      query   = "(sum by (vm) (rate(turnstile_consumer_records_in_total[${var.alert_stall_minutes}m])) > 0) and (max by (vm) (changes(turnstile_consumer_watermark_seconds[${var.alert_stall_minutes}m])) == 0)"
      for     = "300s"
      about   = "A consumer read records for ${var.alert_stall_minutes} minutes but no partition's watermark advanced: no window can close and nothing reaches the lake."
    }
    rejected = {
      display = "turnstile: rejected-record rate"
      query   = "sum(rate(turnstile_consumer_records_rejected_total[10m])) > ${var.alert_rejected_per_second}"
      for     = "600s"
      about   = "The consumers reject more than ${var.alert_rejected_per_second} records per second (10-minute average). The dead letters are in turnstile_rejected/ of the lake bucket, with their reason."
    }
    write_errors = {
      display = "turnstile: lake-write or commit errors"
      query   = "sum by (vm) (increase(turnstile_consumer_sink_retries_total[10m]) + increase(turnstile_consumer_commit_errors_total[10m])) > ${var.alert_write_errors}"
      for     = "0s"
      about   = "A consumer retried lake writes or failed offset commits more than ${var.alert_write_errors} times in 10 minutes. Check its logs (Cloud Logging, container consumer)."
    }
    partitions_paused = {
      display = "turnstile: consumer partitions paused"
      query   = "max by (vm) (turnstile_consumer_partitions_paused) > 0"
      for     = "${var.alert_paused_minutes * 60}s"
      about   = "A consumer has kept at least one partition paused for ${var.alert_paused_minutes} minutes: a lake or dead-letter write keeps failing (a lake permission, the bucket, the network). It reads nothing from those partitions until the writes succeed. Check its logs (Cloud Logging, container consumer)."
    }
    not_ready = {
      display = "turnstile: app not ready"
      # One probe line a minute per app VM (turnstile-readyz, installed by the
      # startup script once an app is deployed); at most one missed in the
      # window, for the probe's timer jitter.
      query = "sum by (instance_id) (increase(${local.log_metric_promql.not_ready}{monitored_resource=\"gce_instance\"}[${var.alert_not_ready_minutes}m])) >= ${var.alert_not_ready_minutes - 1}"
      for   = "0s"
      about = "An app VM's /readyz (127.0.0.1:9090, and :9091 for the ridership app with var.ridership) answered not ready, or not at all, at every probe for ${var.alert_not_ready_minutes} minutes. The probe log is turnstile_readyz in Cloud Logging."
    }
    agent_install_failed = {
      display = "turnstile: Ops Agent install failed at boot"
      query   = "sum by (instance_id) (increase(${local.log_metric_promql.agent_install_failed}{monitored_resource=\"gce_instance\"}[30m])) > 0"
      for     = "0s"
      about   = "A VM's startup script could not install the Ops Agent (the apps started anyway, without metrics). Its log line is in the serial console and in Cloud Logging; the next boot retries, or run `sudo google_metadata_script_runner startup` on the VM."
    }
    app_down = {
      display = "turnstile: app metrics absent"
      # Per app VM: its series seen in the last 24 hours but not in the last
      # alert_absent_minutes. Never absent(): on a project where no app has
      # been deployed yet (a first apply) absent() would fire at once.
      query = join(" or ", [for m in local.liveness_metrics :
        "(max by (vm) (max_over_time(${m}[24h])) unless max by (vm) (max_over_time(${m}[${var.alert_absent_minutes}m])))"
      ])
      for   = "0s"
      about = "No /metrics scrape of an app (consumer or producer) for ${var.alert_absent_minutes} minutes: the app, its VM or its Ops Agent is down."
    }
  }
}

# Log-based metrics: lines that the VMs write, counted by Cloud Logging.
#   not_ready:            the readiness probe's "not-ready" lines (the Ops
#                         Agent ships /var/log/turnstile/readyz.log as the
#                         log turnstile_readyz);
#   agent_install_failed: the startup script's line when the Ops Agent
#                         install fails (startup-script output reaches Cloud
#                         Logging through the guest agent, not the Ops Agent).
locals {
  log_metrics = {
    not_ready = {
      name   = "${replace(var.name_prefix, "-", "_")}_not_ready"
      about  = "Readiness probes of a turnstile app VM that found /readyz not ready."
      filter = "resource.type=\"gce_instance\" AND log_id(\"turnstile_readyz\") AND (jsonPayload.message:\"turnstile-readyz not-ready\" OR textPayload:\"turnstile-readyz not-ready\")"
    }
    agent_install_failed = {
      name   = "${replace(var.name_prefix, "-", "_")}_ops_agent_install_failed"
      about  = "Ops Agent installs that failed in a turnstile VM's startup script."
      filter = "resource.type=\"gce_instance\" AND (textPayload:\"turnstile-ops-agent-install-failed\" OR jsonPayload.message:\"turnstile-ops-agent-install-failed\")"
    }
  }
  # logging.googleapis.com/user/NAME as PromQL names it.
  log_metric_promql = { for k, m in google_logging_metric.this : k => "logging_googleapis_com:user_${m.name}" }
}

resource "google_logging_metric" "this" {
  for_each = local.log_metrics

  name        = each.value.name
  description = each.value.about
  filter      = each.value.filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  display_name = "turnstile-stream alerts"
  type         = "email"
  labels       = { email_address = var.alert_email }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "promql" {
  for_each = local.promql_alerts

  display_name          = each.value.display
  combiner              = "OR"
  severity              = contains(["rejected", "agent_install_failed"], each.key) ? "WARNING" : "ERROR"
  notification_channels = local.alert_channels

  conditions {
    display_name = each.value.display
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.for
      evaluation_interval = "60s"
      # The metrics may not exist yet (first apply, no app deployed).
      disable_metric_validation = true
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = each.value.display
    content   = "${each.value.about}\n\n${local.alert_docs}"
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.this]
}

# Every VM, Kafka's included: the Ops Agent reports its own uptime every
# minute, so a VM that stops, hangs or loses its agent goes silent.
resource "google_monitoring_alert_policy" "vm_down" {
  display_name          = "turnstile: VM down or Ops Agent not reporting"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = local.alert_channels

  conditions {
    display_name = "Ops Agent uptime absent for ${var.alert_agent_absent_minutes} minutes"
    condition_absent {
      filter   = "resource.type = \"gce_instance\" AND metric.type = \"agent.googleapis.com/agent/uptime\" AND metadata.user_labels.app = \"turnstile-stream\""
      duration = "${var.alert_agent_absent_minutes * 60}s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.instance_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "turnstile: VM down"
    content   = "A turnstile VM has sent no Ops Agent heartbeat for ${var.alert_agent_absent_minutes} minutes: it is stopped, hung, or its agent died.\n\n${local.alert_docs}"
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.this]
}
