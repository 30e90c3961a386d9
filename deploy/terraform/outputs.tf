output "bot_service_account" {
  description = "Run the bot as this account (app.yaml service_account / Cloud Run --service-account)."
  value       = google_service_account.bot.email
}

output "push_service_account" {
  description = "PUBSUB_PUSH_SERVICE_ACCOUNT: the account push requests are signed as."
  value       = google_service_account.push.email
}

output "push_audience" {
  description = "PUBSUB_PUSH_AUDIENCE: the audience of the push ID tokens (the push endpoint)."
  value       = var.delivery == "push" ? local.push_endpoint : null
}

output "subscription" {
  description = "The findings subscription (PUBSUB_SUBSCRIPTION when delivery = pull)."
  value       = google_pubsub_subscription.findings.id
}

output "dead_letter_subscription" {
  description = "Where undeliverable findings wait for a person."
  value       = google_pubsub_subscription.dead_letter.id
}

output "notification_config" {
  description = "The SCC notification config name."
  value       = google_scc_v2_organization_notification_config.cloud_run_threats.name
}

output "secret_references" {
  description = "Values for app.secrets.yaml: sm:// references to the latest version of each secret."
  value = {
    for key, secret in google_secret_manager_secret.bot :
    upper(key) => "sm://${secret.id}/versions/latest"
  }
}

output "app_engine_hostname" {
  description = "Where Slack and Pub/Sub reach the bot on App Engine (manifest.yaml BOT_HOST)."
  value       = var.create_app_engine_app ? google_app_engine_application.app[0].default_hostname : null
}
