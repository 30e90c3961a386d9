"""Pub/Sub push delivery: verify the OIDC token, unwrap the envelope, answer ack or retry.

Pub/Sub treats 2xx as an acknowledgement and anything else as a nack, redelivering with
the subscription's backoff. Requests without a valid token from the configured service
account are refused before the body is read as a finding.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import id_token

from bot.pipeline import Delivery, FindingPipeline

logger = logging.getLogger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class PushAuthError(Exception):
    """The push request is not from the expected Pub/Sub subscription."""


@dataclass(frozen=True)
class PushVerifier:
    """Check the bearer token Pub/Sub attaches to push requests."""

    audience: str
    service_account: str | None
    certs_url: str = GOOGLE_CERTS_URL

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """Return the token's claims, or raise PushAuthError."""
        if not authorization or not authorization.startswith("Bearer "):
            raise PushAuthError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims: dict[str, Any] = dict(
                id_token.verify_token(
                    token,
                    google.auth.transport.requests.Request(session=_session()),
                    audience=self.audience,
                    certs_url=self.certs_url,
                    clock_skew_in_seconds=10,
                )
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise PushAuthError(f"invalid token: {exc}") from None
        if claims.get("iss") not in _ISSUERS:
            raise PushAuthError("token not issued by Google")
        if self.service_account and (
            claims.get("email") != self.service_account or not claims.get("email_verified")
        ):
            raise PushAuthError("token is for another service account")
        return claims


_SESSION: requests.Session | None = None


def _session() -> requests.Session:
    # google-auth caches nothing itself; a shared session at least reuses connections.
    global _SESSION
    if _SESSION is None:
        _SESSION = requests.Session()
    return _SESSION


def parse_push_envelope(body: bytes) -> Delivery:
    """Unwrap a push request body into a Delivery.

    Raises:
        ValueError: the body is not a Pub/Sub push envelope.
    """
    try:
        envelope = json.loads(body)
        message = envelope["message"]
        data = base64.b64decode(message.get("data", ""), validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValueError(f"not a Pub/Sub push envelope: {type(exc).__name__}") from None
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    published = message.get("publishTime") or message.get("publish_time")
    publish_time = None
    if isinstance(published, str):
        try:
            publish_time = datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            publish_time = None
    attempt = envelope.get("deliveryAttempt")
    return Delivery(
        data=data,
        message_id=message_id,
        publish_time=publish_time,
        delivery_attempt=attempt if isinstance(attempt, int) else None,
    )


def handle_push(pipeline: FindingPipeline, body: bytes) -> tuple[int, str]:
    """Process one push request; return the HTTP status and a short body."""
    try:
        delivery = parse_push_envelope(body)
    except ValueError as exc:
        # Redelivering a body that is not an envelope cannot help: acknowledge it.
        logger.warning("push request rejected: %s", exc)
        return 204, ""
    outcome = pipeline.handle(delivery)
    if outcome.final:
        return 204, ""
    return 503, outcome.value
