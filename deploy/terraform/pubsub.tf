# Findings flow: SCC notification config → topic → subscription → bot.
# Messages that fail max_delivery_attempts times go to the dead-letter topic and wait in
# its subscription for a person (see docs/deploy.md, "Dead letters").

resource "google_pubsub_topic" "findings" {
  project = var.project_id
  name    = "scc-findings"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = "scc-findings-dead-letter"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

# A topic without a subscription drops what it receives: keep dead letters for 7 days.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "scc-findings-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "findings" {
  project = var.project_id
  name    = var.delivery == "push" ? "scc-findings-push" : "scc-findings-bot"
  topic   = google_pubsub_topic.findings.id
  labels  = var.labels

  # Long enough for a post that waits out a Slack rate limit; the bot answers sooner.
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }

  # A nacked or failed push is retried after 10 s, growing to 10 min during an outage.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  dynamic "push_config" {
    for_each = var.delivery == "push" ? [1] : []
    content {
      push_endpoint = local.push_endpoint

      # The bot reads the standard JSON envelope (bot/push.py): no no_wrapper block.
      # Pub/Sub signs each request with a Google ID token for this account and audience;
      # the bot checks both (PUBSUB_PUSH_SERVICE_ACCOUNT, PUBSUB_PUSH_AUDIENCE).
      oidc_token {
        service_account_email = google_service_account.push.email
        audience              = local.push_endpoint
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.delivery == "pull" || local.push_endpoint != ""
      error_message = "Push delivery needs push_endpoint, or create_app_engine_app = true."
    }
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.push_token_creator,
  ]
}

# Pub/Sub's service agent forwards dead letters: it publishes to the dead-letter topic and
# acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.findings.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The identity push requests are signed as. It has no roles: it only names the sender.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "scc-bot-push"
  display_name = "Pub/Sub push to the SCC Slack bot"
}

# Pub/Sub mints the push ID tokens for that account.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
