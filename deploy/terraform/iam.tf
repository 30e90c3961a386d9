# The bot's own identity. App Engine runs as it (app.yaml service_account, or
# `gcloud app deploy --service-account`); Cloud Run with `--service-account`.
resource "google_service_account" "bot" {
  project      = var.project_id
  account_id   = "scc-slack-bot"
  display_name = "SCC Slack bot"
  description  = "Reads SCC findings and Cloud Run state; containment roles only when enable_containment"
}

locals {
  bot_member = "serviceAccount:${google_service_account.bot.email}"
}

# ---------------------------------------------------------------------------------------
# Lookups (always): read findings, Cloud Run configuration and logs across the organization.
# ---------------------------------------------------------------------------------------

resource "google_organization_iam_member" "findings_viewer" {
  org_id = var.organization_id
  role   = "roles/securitycenter.findingsViewer"
  member = local.bot_member
}

# Narrower than roles/run.viewer plus roles/logging.viewer: only what the investigate and
# lookup surfaces call (get/list services, revisions, jobs, executions; list log entries).
resource "google_organization_iam_custom_role" "lookups" {
  org_id      = var.organization_id
  role_id     = "sccSlackBotLookups"
  title       = "SCC Slack bot: lookups"
  description = "Read Cloud Run resources and their logs for SCC finding investigation"
  permissions = [
    "logging.logEntries.list",
    "run.executions.get",
    "run.executions.list",
    "run.jobs.get",
    "run.jobs.list",
    "run.revisions.get",
    "run.revisions.list",
    "run.services.get",
    "run.services.getIamPolicy",
    "run.services.list",
  ]
}

resource "google_organization_iam_member" "lookups" {
  org_id = var.organization_id
  role   = google_organization_iam_custom_role.lookups.name
  member = local.bot_member
}

# Project-level needs of the bot itself: connect to Cloud SQL, and write its logs (a
# user-managed runtime account gets no logging role by default).
resource "google_project_iam_member" "bot_project" {
  for_each = toset(["roles/cloudsql.client", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = local.bot_member
}

# Streaming pull only: consume the findings subscription, nothing else in the project.
resource "google_pubsub_subscription_iam_member" "bot_pull" {
  count = var.delivery == "pull" ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.findings.name
  role         = "roles/pubsub.subscriber"
  member       = local.bot_member
}
