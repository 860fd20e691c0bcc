# Alert policies on the apps' Prometheus metrics, which the Ops Agent on each
# app VM scrapes from 127.0.0.1:9090/metrics and sends to Cloud Monitoring
# (startup.sh.tftpl). Conditions are PromQL; each series carries the labels
# vm (the VM name) and role that the scrape config adds. Thresholds are
# variables, documented in variables.tf and docs/deploy.md ("Alerts").

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
    app_down = {
      display = "turnstile: app metrics absent"
      # Per app: every series gone (absent_over_time), or one VM's series seen
      # in the last hour but not in the last alert_absent_minutes.
      query = join(" or ", flatten([for m in local.liveness_metrics : [
        "absent_over_time(${m}[${var.alert_absent_minutes}m])",
        "(max by (vm) (max_over_time(${m}[1h])) unless max by (vm) (max_over_time(${m}[${var.alert_absent_minutes}m])))",
      ]]))
      for   = "0s"
      about = "No /metrics scrape of an app (consumer or producer) for ${var.alert_absent_minutes} minutes: the app, its VM or its Ops Agent is down."
    }
  }
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
  severity              = each.key == "rejected" ? "WARNING" : "ERROR"
  notification_channels = local.alert_channels

  conditions {
    display_name = each.value.display
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.for
      evaluation_interval = "60s"
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
  display_name          = "turnstile: VM down (no Ops Agent heartbeat)"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = local.alert_channels

  conditions {
    display_name = "Ops Agent uptime absent for ${var.alert_absent_minutes} minutes"
    condition_absent {
      filter   = "resource.type = \"gce_instance\" AND metric.type = \"agent.googleapis.com/agent/uptime\" AND metadata.user_labels.app = \"turnstile-stream\""
      duration = "${var.alert_absent_minutes * 60}s"

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
    content   = "A turnstile VM has sent no Ops Agent heartbeat for ${var.alert_absent_minutes} minutes: it is stopped, hung, or its agent died.\n\n${local.alert_docs}"
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.this]
}
