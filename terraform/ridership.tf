# The MTA Subway Hourly Ridership feed (var.ridership; issue #25;
# docs/deploy.md, "The ridership feed"). The apps are the producer's and the
# consumer's --source ridership, each a second container on the VM of its
# role (compute.tf, docker/compose.apps.yaml); the topic is mta-ridership
# (topic-init on the Kafka VM, kafka.tf on the managed cluster); the lake
# prefix ridership/ has its BigQuery tables in bigquery.tf.
#
# The SODA app token lives in this secret, which Terraform creates WITHOUT a
# value: there is no google_secret_manager_secret_version here, so the token
# is never in the configuration, a plan or the state. Add it with
#   printf '%s' "$TOKEN" | gcloud secrets versions add PREFIX-soda-app-token --data-file=-
# The producer VM reads the latest version at boot (startup.sh.tftpl) into a
# file only the producer container's user can read; only the producer's
# service account may access the secret (iam.tf).
resource "google_secret_manager_secret" "soda_app_token" {
  count = local.ridership ? 1 : 0

  secret_id = local.soda_app_token_id
  labels    = { role = "producer" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}
