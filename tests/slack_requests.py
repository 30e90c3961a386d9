"""Signed Slack requests for tests; the client lives with the other stand-ins."""

from standins.slack_requests import TEAM_ID, SlackRequests, sign

__all__ = ["TEAM_ID", "SlackRequests", "sign"]
