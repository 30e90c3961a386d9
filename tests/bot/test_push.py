from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from tests.conftest import sample_bytes

AUDIENCE = "https://scc-bot.example.com/pubsub/push"
PUSHER = "pubsub-push@acme-sec.iam.gserviceaccount.com"


class _Keys:
    """An RSA key and its certificate, published like Google's OAuth2 certs endpoint."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.certs = {"kid-1": cert.public_bytes(serialization.Encoding.PEM).decode()}
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.signer = crypt.RSASigner.from_string(pem, key_id="kid-1")

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": PUSHER,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
            "sub": "1234567890",
        }
        payload.update(claims)
        return jwt.encode(self.signer, payload).decode()


@pytest.fixture(scope="module")
def keys() -> _Keys:
    return _Keys()


@pytest.fixture
def certs_url(keys: _Keys) -> Iterator[str]:
    body = json.dumps(keys.certs).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs"
    server.shutdown()


@pytest.fixture
def settings_overrides(certs_url: str) -> dict[str, Any]:
    return {
        "pubsub_push_audience": AUDIENCE,
        "pubsub_push_service_account": PUSHER,
        "pubsub_push_certs_url": certs_url,
    }


def _envelope(data: bytes, message_id: str = "9001") -> bytes:
    return json.dumps(
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": message_id,
                "publishTime": "2026-05-12T10:14:10.000Z",
                "attributes": {},
            },
            "subscription": "projects/acme-sec/subscriptions/scc-findings-push",
        }
    ).encode()


def _push(url: str, body: bytes, token: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{url}/pubsub/push", data=body, headers=headers, timeout=10)


def test_valid_push_posts_the_finding_and_acks(bot_server: str, keys: _Keys, slack: Any) -> None:
    response = _push(bot_server, _envelope(sample_bytes("malicious_python_v2.json")), keys.token())

    assert response.status_code == 204
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1


def test_redelivered_push_posts_nothing_more(bot_server: str, keys: _Keys, slack: Any) -> None:
    body = _envelope(sample_bytes("malicious_python_v2.json"))

    assert _push(bot_server, body, keys.token()).status_code == 204
    assert _push(bot_server, body, keys.token()).status_code == 204

    assert len(slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://someone-else.example.com/"},
        {"email": "attacker@evil-project.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
    ids=["audience", "email", "unverified", "issuer", "expired"],
)
def test_forged_push_is_refused_and_nothing_posted(
    bot_server: str, keys: _Keys, slack: Any, claims: dict[str, Any]
) -> None:
    response = _push(
        bot_server, _envelope(sample_bytes("malicious_python_v2.json")), keys.token(**claims)
    )

    assert response.status_code == 401
    assert slack.calls_to("chat.postMessage") == []


def test_push_without_token_is_refused(bot_server: str, slack: Any) -> None:
    response = _push(bot_server, _envelope(sample_bytes("malicious_python_v2.json")), None)

    assert response.status_code == 401
    assert slack.calls_to("chat.postMessage") == []


def test_token_signed_by_another_key_is_refused(bot_server: str, slack: Any) -> None:
    other = _Keys()

    response = _push(bot_server, _envelope(sample_bytes("malicious_python_v2.json")), other.token())

    assert response.status_code == 401


def test_slack_failure_answers_503_so_pubsub_retries(
    bot_server: str, keys: _Keys, slack: Any
) -> None:
    slack.set_down(True)
    body = _envelope(sample_bytes("malicious_python_v2.json"))

    assert _push(bot_server, body, keys.token()).status_code == 503

    slack.set_down(False)
    assert _push(bot_server, body, keys.token()).status_code == 204
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1


def test_unparseable_finding_is_acknowledged(bot_server: str, keys: _Keys, slack: Any) -> None:
    response = _push(bot_server, _envelope(b"\x00garbage"), keys.token())

    assert response.status_code == 204
    assert slack.calls_to("chat.postMessage") == []


def test_certificates_are_fetched_once_and_junk_tokens_fetch_nothing(
    bot_server: str, keys: _Keys, slack: Any, services: Any
) -> None:
    counted: list[int] = []
    import bot.push as push_module

    original = push_module.CertificateCache.get

    def counting(self: Any) -> dict[str, str]:
        counted.append(self.fetches)
        return original(self)

    push_module.CertificateCache.get = counting  # type: ignore[method-assign]
    try:
        for junk in ("abc", "a.b", "x" * 9000):
            assert _push(bot_server, _envelope(b"{}"), junk).status_code == 401
        assert counted == []
        for number in range(3):
            body = _envelope(sample_bytes("malicious_python_v2.json"), str(number))
            assert _push(bot_server, body, keys.token()).status_code == 204
    finally:
        push_module.CertificateCache.get = original  # type: ignore[method-assign]

    assert counted == [0, 1, 1]


def test_settings_refuse_an_audience_without_a_service_account() -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="must be set together"):
        load_settings(
            slack_bot_token="xoxb-1",
            slack_signing_secret="s3cret-value",
            slack_channel="C0SECURITY",
            pubsub_push_audience=AUDIENCE,
        )
