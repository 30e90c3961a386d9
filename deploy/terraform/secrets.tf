# The secrets exist here; their values do not. Add versions with gcloud (docs/deploy.md) so
# no token ever lands in Terraform state.
resource "google_secret_manager_secret" "bot" {
  for_each = var.secret_ids

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# The bot reads each secret, and only these.
resource "google_secret_manager_secret_iam_member" "bot_access" {
  for_each = var.secret_ids

  project   = var.project_id
  secret_id = google_secret_manager_secret.bot[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.bot_member
}
