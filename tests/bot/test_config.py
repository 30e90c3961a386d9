from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.severity import Severity

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s3cret-value",
    "SLACK_CHANNEL": "C0SECURITY",
}


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in {**REQUIRED, **values}.items():
        monkeypatch.setenv(name, value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)

    settings = load_settings()

    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///scc-bot.db"
    assert settings.min_severity is Severity.LOW
    assert settings.slack_command == "/scc"


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)

    settings = load_settings()

    assert "s3cret-value" not in repr(settings)
    assert "xoxb-1" not in str(settings)


def test_routing_rules_and_lists_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(
        monkeypatch,
        ROUTING_RULES='[{"channel": "C0SHELLS", "categories": ["Reverse Shell"],'
        ' "min_severity": "HIGH"}]',
        APPROVERS="U0AAA, U0BBB",
        SLACK_API_URL="http://127.0.0.1:9999/api",
    )

    settings = load_settings()

    assert settings.routing_rules[0].channel == "C0SHELLS"
    assert settings.routing_rules[0].min_severity is Severity.HIGH
    assert settings.approvers == ["U0AAA", "U0BBB"]
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SLACK_CHANNEL", "#security", "SLACK_CHANNEL: '#security' is not a Slack"),
        ("PORT", "99999", "PORT:"),
        ("ROUTING_RULES", "[{", "ROUTING_RULES: not valid JSON"),
        ("ROUTING_RULES", '[{"channel": "nope"}]', "ROUTING_RULES:"),
        ("APPROVERS", "alice", "APPROVERS: 'alice' is not a Slack user id"),
        ("SCC_EMULATOR_HOST", "localhost", "SCC_EMULATOR_HOST: 'localhost' is not host:port"),
        ("SLACK_API_URL", "http://evil.example.com/api/", "SLACK_API_URL: must be https"),
        ("MIN_SEVERITY", "SEVERE", "MIN_SEVERITY:"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    _env(monkeypatch, **{name: value})

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert message in str(raised.value)


def test_missing_variables_are_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings()

    text = str(raised.value)
    for name in REQUIRED:
        assert f"{name}: is required but not set" in text


def test_settings_type_is_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    settings = load_settings()

    with pytest.raises(Exception, match="frozen"):
        settings.port = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)
