variable "project_id" {
  description = "Project that hosts the bot: App Engine app, topic, subscription, secrets, service accounts."
  type        = string
}

variable "organization_id" {
  description = "Numeric organization id whose SCC findings the bot receives (organizations/<this>)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.organization_id))
    error_message = "organization_id is the numeric id, e.g. 123456789012."
  }
}

variable "region" {
  description = "Region for regional resources and the provider default, e.g. us-central1."
  type        = string
  default     = "us-central1"
}

variable "app_engine_location" {
  description = "App Engine location id (us-central, europe-west, ...). It can never be changed once the app exists."
  type        = string
  default     = "us-central"
}

variable "create_app_engine_app" {
  description = "Create the project's App Engine application. Set false when it exists already or the bot runs on Cloud Run."
  type        = bool
  default     = true
}

variable "push_endpoint" {
  description = "HTTPS URL Pub/Sub pushes findings to. Empty: https://<App Engine default hostname>/pubsub/push. A Cloud Run URL + /pubsub/push when running there."
  type        = string
  default     = ""
}

variable "delivery" {
  description = "How findings reach the bot: push (App Engine, Cloud Run scaling to zero) or pull (an always-on instance with PUBSUB_SUBSCRIPTION set)."
  type        = string
  default     = "push"

  validation {
    condition     = contains(["push", "pull"], var.delivery)
    error_message = "delivery is push or pull."
  }
}

variable "notification_filter" {
  description = "SCC v2 streaming filter: which finding changes are sent. The default sends every Cloud Run threat finding, in any state, so state and mute changes reach the bot too."
  type        = string
  default     = "finding_class=\"THREAT\" AND (resource.type=\"run.googleapis.com/Service\" OR resource.type=\"run.googleapis.com/Job\")"
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before it goes to the dead-letter topic (5 to 100)."
  type        = number
  default     = 10
}

variable "enable_containment" {
  description = "Grant the containment roles (change Cloud Run services, cancel executions, mute and resolve findings). Leave false for lookups only, with CONTAINMENT_MODE=plan-only."
  type        = bool
  default     = false
}

variable "containment_runtime_service_accounts" {
  description = "Emails of the runtime service accounts of the Cloud Run services the bot may change. Updating a service deploys a revision that runs as that account, so the bot needs actAs on each, and on nothing else."
  type        = list(string)
  default     = []
}

variable "secret_ids" {
  description = "Secret Manager secret ids the bot reads at start. Terraform creates the secrets, never their values."
  type        = map(string)
  default = {
    slack_bot_token      = "slack-bot-token"
    slack_signing_secret = "slack-signing-secret"
    vt_api_key           = "virustotal-api-key"
    database_url         = "database-url"
  }
}

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default = {
    app = "scc-slack-bot"
  }
}
