# =======================================================================================
# CONTAINMENT ROLES — created only with enable_containment = true.
# These let the bot CHANGE production: update Cloud Run services (scale to zero, shift
# traffic, remove public access), cancel job executions, delete revisions, and mute or
# resolve SCC findings. The bot asks for Slack approval before each step (APPROVERS), and
# CONTAINMENT_MODE=plan-only keeps it from acting even when these roles exist.
# =======================================================================================

resource "google_organization_iam_custom_role" "containment" {
  count = var.enable_containment ? 1 : 0

  org_id      = var.organization_id
  role_id     = "sccSlackBotContainment"
  title       = "SCC Slack bot: containment"
  description = "Change Cloud Run services and executions to contain a finding"
  permissions = [
    "run.executions.cancel",
    "run.operations.get",
    "run.revisions.delete",
    "run.services.setIamPolicy",
    "run.services.update",
  ]
}

resource "google_organization_iam_member" "containment" {
  count = var.enable_containment ? 1 : 0

  org_id = var.organization_id
  role   = google_organization_iam_custom_role.containment[0].name
  member = local.bot_member
}

# Mute, resolve and mark findings after containment.
resource "google_organization_iam_member" "containment_scc" {
  for_each = var.enable_containment ? toset([
    "roles/securitycenter.findingsMuteSetter",
    "roles/securitycenter.findingsStateSetter",
    "roles/securitycenter.findingSecurityMarksWriter",
  ]) : toset([])

  org_id = var.organization_id
  role   = each.value
  member = local.bot_member
}

# Updating a service deploys a revision running as the service's runtime account, which
# needs actAs on exactly those accounts (listed per installation), never project-wide.
resource "google_service_account_iam_member" "containment_act_as" {
  for_each = var.enable_containment ? toset(var.containment_runtime_service_accounts) : toset([])

  service_account_id = "projects/-/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.bot_member
}
