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
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import google.auth.exceptions
import requests
from google.auth import jwt

from bot.pipeline import Delivery, FindingPipeline

logger = logging.getLogger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class PushAuthError(Exception):
    """The push request is not from the expected Pub/Sub subscription."""


# Google rotates its signing keys over days and says how long a copy stays good.
_DEFAULT_CERTS_TTL = 3600.0
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


class CertificateCache:
    """Google's token-signing certificates, fetched once and kept while they are fresh."""

    def __init__(self, url: str, *, clock: Any = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._certs: dict[str, str] = {}
        self._expires = 0.0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self.fetches = 0

    def get(self) -> dict[str, str]:
        """Return the certificates by key id, fetching them when the copy is stale."""
        with self._lock:
            if self._certs and self._clock() < self._expires:
                return self._certs
            try:
                response = self._session.get(self.url, timeout=10)
                response.raise_for_status()
                certs = response.json()
            except (requests.RequestException, ValueError) as exc:
                if self._certs:
                    # Keep verifying with the last good copy rather than refusing everything.
                    logger.warning("could not refresh Google's certificates: %s", exc)
                    return self._certs
                raise PushAuthError("cannot fetch Google's signing certificates") from None
            self.fetches += 1
            if not isinstance(certs, dict):
                raise PushAuthError("Google's signing certificates are not a JSON object")
            self._certs = {str(k): str(v) for k, v in certs.items()}
            self._expires = self._clock() + _max_age(response.headers.get("Cache-Control", ""))
            return self._certs


def _max_age(cache_control: str) -> float:
    match = re.search(r"max-age=(\d+)", cache_control)
    return float(match.group(1)) if match else _DEFAULT_CERTS_TTL


@dataclass
class PushVerifier:
    """Check the bearer token Pub/Sub attaches to push requests."""

    audience: str
    service_account: str | None
    certs_url: str = GOOGLE_CERTS_URL
    certs: CertificateCache = field(init=False)

    def __post_init__(self) -> None:
        self.certs = CertificateCache(self.certs_url)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """Return the token's claims, or raise PushAuthError."""
        if not authorization or not authorization.startswith("Bearer "):
            raise PushAuthError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        # Refuse what cannot be a signed JWT before any work, let alone a fetch.
        if len(token) > 8192 or not _JWT_SHAPE.match(token):
            raise PushAuthError("malformed token")
        try:
            claims: dict[str, Any] = dict(
                jwt.decode(
                    token,
                    certs=self.certs.get(),
                    audience=self.audience,
                    clock_skew_in_seconds=10,
                )
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise PushAuthError(f"invalid token: {exc}") from None
        if claims.get("iss") not in _ISSUERS:
            raise PushAuthError("token not issued by Google")
        if not self.service_account or (
            claims.get("email") != self.service_account or not claims.get("email_verified")
        ):
            raise PushAuthError("token is for another service account")
        return claims


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
