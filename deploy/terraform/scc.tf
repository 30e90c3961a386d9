# The organization-level SCC v2 notification config that streams Cloud Run threat findings
# to the topic. Creating it needs roles/securitycenter.notificationConfigEditor on the
# organization for whoever runs terraform.

# SCC's notification service agent publishes to the topic.
resource "google_pubsub_topic_iam_member" "scc_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.findings.name
  role    = "roles/pubsub.publisher"
  member  = local.scc_service_agent
}

resource "google_scc_v2_organization_notification_config" "cloud_run_threats" {
  organization = var.organization_id
  location     = "global"
  config_id    = "scc-slack-bot-cloud-run-threats"
  description  = "Cloud Run threat findings for the SCC Slack bot"
  pubsub_topic = google_pubsub_topic.findings.id

  streaming_config {
    filter = var.notification_filter
  }

  depends_on = [google_pubsub_topic_iam_member.scc_publisher]
}
