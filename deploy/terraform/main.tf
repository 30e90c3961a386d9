data "google_project" "this" {
  project_id = var.project_id
}

locals {
  apis = [
    "appengine.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "securitycenter.googleapis.com",
    "sqladmin.googleapis.com",
  ]
  # Google-managed identities that act on the bot's resources.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  scc_service_agent    = "serviceAccount:service-org-${var.organization_id}@gcp-sa-scc-notification.iam.gserviceaccount.com"
  push_endpoint = (
    var.push_endpoint != "" ? var.push_endpoint :
    var.create_app_engine_app ? "https://${google_app_engine_application.app[0].default_hostname}/pubsub/push" : ""
  )
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_app_engine_application" "app" {
  count = var.create_app_engine_app ? 1 : 0

  project       = var.project_id
  location_id   = var.app_engine_location
  database_type = "CLOUD_DATASTORE_COMPATIBILITY"

  depends_on = [google_project_service.apis]
}
