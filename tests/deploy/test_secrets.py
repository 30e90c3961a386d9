"""Settings naming Secret Manager versions are read at start, checked, and never logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest

from bot.config import ConfigError, load_settings
from bot.secrets import crc32c, resolve_references
from standins.secret_manager import SecretManagerStandIn

PROJECT = "projects/acme-sec"
BOT_TOKEN = "xoxb-from-secret-manager"
SIGNING = "signing-from-secret-manager"
VT_KEY = "vt-key-from-secret-manager"


@pytest.fixture
def secrets() -> Iterator[SecretManagerStandIn]:
    with SecretManagerStandIn() as standin:
        standin.add_version(f"{PROJECT}/secrets/slack-bot-token", "xoxb-old", enabled=True)
        standin.add_version(f"{PROJECT}/secrets/slack-bot-token", BOT_TOKEN + "\n")
        standin.add_version(f"{PROJECT}/secrets/slack-signing-secret", SIGNING)
        standin.add_version(f"{PROJECT}/secrets/slack-signing-secret", "disabled", enabled=False)
        standin.add_version(f"{PROJECT}/secrets/virustotal-api-key", VT_KEY)
        yield standin


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, secrets: SecretManagerStandIn) -> None:
    monkeypatch.setenv("SECRETMANAGER_EMULATOR_HOST", secrets.address)
    monkeypatch.setenv("SLACK_BOT_TOKEN", f"sm://{PROJECT}/secrets/slack-bot-token/versions/latest")
    monkeypatch.setenv(
        "SLACK_SIGNING_SECRET", f"sm://{PROJECT}/secrets/slack-signing-secret/versions/latest"
    )
    monkeypatch.setenv("VT_API_KEY", f"sm://{PROJECT}/secrets/virustotal-api-key/versions/1")
    monkeypatch.setenv("SLACK_CHANNEL", "C0SECURITY")


def test_crc32c_matches_the_castagnoli_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0


@pytest.mark.usefixtures("environment")
def test_references_resolve_to_payloads_at_start(
    secrets: SecretManagerStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    settings = load_settings()

    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN  # latest, newline trimmed
    assert settings.slack_signing_secret.get_secret_value() == SIGNING  # disabled v2 skipped
    assert settings.vt_api_key is not None
    assert settings.vt_api_key.get_secret_value() == VT_KEY
    assert settings.slack_channel == "C0SECURITY"
    names = sorted(r.name for r in secrets.requests_to("AccessSecretVersion"))
    assert names == [
        f"{PROJECT}/secrets/slack-bot-token/versions/latest",
        f"{PROJECT}/secrets/slack-signing-secret/versions/latest",
        f"{PROJECT}/secrets/virustotal-api-key/versions/1",
    ]
    for value in (BOT_TOKEN, SIGNING, VT_KEY):
        assert value not in caplog.text
    assert f"SLACK_BOT_TOKEN read from secret {PROJECT}/secrets/slack-bot-token" in caplog.text


@pytest.mark.usefixtures("environment")
def test_overrides_may_be_references_and_plain_values_pass_through(
    secrets: SecretManagerStandIn,
) -> None:
    settings = load_settings(
        slack_signing_secret="plain-secret",
        pubsub_push_audience=f"sm://{PROJECT}/secrets/virustotal-api-key/versions/1",
        pubsub_push_service_account="pusher@acme-sec.iam.gserviceaccount.com",
    )

    assert settings.slack_signing_secret.get_secret_value() == "plain-secret"
    assert settings.pubsub_push_audience == VT_KEY
    # The same version named by two settings is read once.
    names = [r.name for r in secrets.requests_to("AccessSecretVersion")]
    assert names.count(f"{PROJECT}/secrets/virustotal-api-key/versions/1") == 1


@pytest.mark.usefixtures("environment")
def test_missing_secret_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", f"sm://{PROJECT}/secrets/nope/versions/latest")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert str(raised.value).startswith("invalid configuration: SLACK_BOT_TOKEN: cannot read")
    assert "NOT_FOUND" in str(raised.value) or "404" in str(raised.value)
    assert SIGNING not in caplog.text and VT_KEY not in caplog.text


@pytest.mark.usefixtures("environment")
def test_permission_denied_names_the_role(secrets: SecretManagerStandIn) -> None:
    secrets.fail_next("AccessSecretVersion", grpc.StatusCode.PERMISSION_DENIED, "denied")

    with pytest.raises(ConfigError, match=r"roles/secretmanager\.secretAccessor"):
        load_settings()


@pytest.mark.usefixtures("environment")
def test_corrupted_payload_is_refused(secrets: SecretManagerStandIn) -> None:
    secrets.corrupt_next_checksum(f"{PROJECT}/secrets/virustotal-api-key")

    with pytest.raises(ConfigError, match=r"VT_API_KEY: .*checksum mismatch"):
        load_settings()


@pytest.mark.usefixtures("environment")
def test_malformed_reference_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, secrets: SecretManagerStandIn
) -> None:
    monkeypatch.setenv("VT_API_KEY", "sm://slack-bot-token")

    with pytest.raises(ConfigError, match="VT_API_KEY: 'sm://slack-bot-token' is not"):
        load_settings()
    assert secrets.requests_to("AccessSecretVersion") == []


def test_values_without_references_make_no_calls() -> None:
    def access(name: str) -> str:
        raise AssertionError(f"unexpected read of {name}")

    values = {"slack_channel": "C0SECURITY", "port": 8080}
    assert resolve_references(values, access) == values
