"""Containment of Cloud Run resources from Slack: plan, approve, execute once, undo."""
