"""manifest.yaml agrees with the code: command, request URLs, events and scopes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SLACK_PATH = "/slack/events"
# The scopes each Web API method the bot calls needs (bot token). A method missing here
# fails the test: add it with its scope, and the scope to manifest.yaml.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_getPermalink": set(),
    "chat_postEphemeral": {"chat:write"},
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_replies": {"channels:history", "groups:history"},
    "files_upload_v2": {"files:write"},
    "usergroups_users_list": {"usergroups:read"},
    "views_open": set(),
    "views_publish": set(),
    "views_update": set(),
}
# What a Slack WebClient can be called through in our code.
_CALL = re.compile(r"\b(?:client|slack|_slack|web_client)\.([a-z]+_[A-Za-z_0-9]+)\(")
_EVENT = re.compile(r"""\bapp\.event\(\s*["']([a-z_]+)["']""")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    return loaded


def _sources() -> list[Path]:
    return [
        path
        for folder in ("bot", "handlers", "blocks")
        for path in sorted((ROOT / folder).rglob("*.py"))
    ]


def _called_methods() -> set[str]:
    found = set()
    for path in _sources():
        found.update(_CALL.findall(path.read_text()))
    # Stand-in helpers and non-Slack clients share the naming; keep Slack API methods only.
    prefixes = ("auth_", "chat_", "conversations_", "files_", "usergroups_", "users_", "views_")
    return {name for name in found if name.startswith(prefixes)}


def test_slash_command_is_the_default_setting(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]

    assert [c["command"] for c in commands] == [Settings.model_fields["slack_command"].default]
    assert commands[0]["should_escape"] is False  # the handler parses <@U…> itself


def test_every_request_url_is_the_bolt_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [
        *(c["url"] for c in manifest["features"]["slash_commands"]),
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]

    assert settings["interactivity"]["is_enabled"] is True
    assert len(urls) == 3
    for url in urls:
        assert re.fullmatch(r"https://BOT_HOST" + SLACK_PATH, url), url


def test_the_http_app_serves_the_slack_path(services: Any) -> None:
    from bot.app import build_http_app

    rules = {rule.rule: rule.methods for rule in build_http_app(services).url_map.iter_rules()}

    assert "POST" in rules[SLACK_PATH]
    assert {"/healthz", "/readyz", "/metrics", "/pubsub/push"} <= set(rules)


def test_subscribed_events_are_exactly_those_handled(manifest: dict[str, Any]) -> None:
    handled = set()
    for path in _sources():
        handled.update(_EVENT.findall(path.read_text()))

    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == handled
    assert manifest["features"]["app_home"]["home_tab_enabled"] is ("app_home_opened" in handled)


def test_scopes_are_what_the_called_methods_need(manifest: dict[str, Any]) -> None:
    called = _called_methods()
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these Web API methods and their scopes: {sorted(unknown)}"
    needed = {"commands"}  # the slash command
    for method in called:
        needed |= METHOD_SCOPES[method]

    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    assert "chat_postMessage" in called  # the scan found the pipeline's calls


def test_production_manifest_uses_http_not_socket_mode(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]

    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    assert "user" not in manifest["oauth_config"]["scopes"]  # no user token, bot only
