terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # Keep state in a bucket the security team controls, e.g.:
  # backend "gcs" {
  #   bucket = "acme-sec-terraform-state"
  #   prefix = "scc-slack-bot"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
  # Organization-level resources (SCC notifications, org IAM) bill quota to this project.
  user_project_override = true
  billing_project       = var.project_id
}
