"""Settings, read once at start from the environment and an optional ``.env`` file."""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.severity import Severity

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class RoutingRule(BaseModel):
    """Send matching findings to ``channel``; every condition given must match."""

    # A misspelt condition must not turn a rule into a catch-all.
    model_config = ConfigDict(extra="forbid")

    channel: str
    min_severity: Severity | None = None
    categories: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G… or D…)")
        return value


class ContainmentMode(StrEnum):
    EXECUTE = "execute"
    PLAN_ONLY = "plan-only"


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Slack
    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_channel: str
    slack_command: str = "/scc"
    # Slack accepts about one post a second per channel, with short bursts; the bot paces
    # itself to that instead of being refused. Raise it only for a proxy or a stand-in.
    slack_channel_posts_per_second: float = Field(default=1.0, gt=0, le=10_000)
    slack_channel_burst: int = Field(default=3, ge=1, le=10_000)
    # Who may use the slash command, and where; empty means everyone, everywhere.
    command_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    command_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Where findings go
    min_severity: Severity = Severity.LOW
    routing_rules: Annotated[list[RoutingRule], NoDecode] = Field(default_factory=list)

    # Ingestion
    pubsub_subscription: str | None = None
    pubsub_max_messages: int = Field(default=20, ge=1, le=1000)
    pubsub_push_audience: str | None = None
    pubsub_push_service_account: str | None = None
    pubsub_push_verify: bool = True
    pubsub_push_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"

    # Storage
    # Kept out of repr: a PostgreSQL URL carries its password.
    database_url: str = Field(default="sqlite:///scc-bot.db", repr=False)

    # Google Cloud
    scc_parent: str | None = None
    scc_emulator_host: str | None = None
    run_emulator_host: str | None = None
    logging_emulator_host: str | None = None
    pubsub_emulator_host: str | None = None
    gcp_console_url: str = "https://console.cloud.google.com"

    # VirusTotal
    vt_api_key: SecretStr | None = None
    vt_api_url: str = "https://www.virustotal.com"
    # The public API allows 4 lookups a minute; the bot spaces its own calls to match.
    vt_lookups_per_minute: int = Field(default=4, ge=1, le=10000)

    # Investigation buttons
    related_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    logs_window_minutes: int = Field(default=10, ge=1, le=24 * 60)
    same_script_lookback_hours: int = Field(default=7 * 24, ge=1, le=90 * 24)
    investigation_cache_seconds: int = Field(default=300, ge=0, le=3600)

    # Containment
    approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approver_group: str | None = None
    responders: Annotated[list[str], NoDecode] = Field(default_factory=list)
    containment_mode: ContainmentMode = ContainmentMode.EXECUTE
    # How long an approval request stays open, and how long to await a Cloud Run operation.
    containment_expiry_minutes: int = Field(default=30, ge=1, le=24 * 60)
    containment_operation_timeout: float = Field(default=120.0, gt=0, le=3600)

    # Bursts: more than BURST_THRESHOLD findings of one resource and category within
    # BURST_WINDOW_MINUTES are shown in one digest message instead of one message each.
    burst_threshold: int = Field(default=1, ge=0, le=1000)  # 0 turns digests off
    burst_window_minutes: int = Field(default=10, ge=1, le=24 * 60)

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    log_format: str = "auto"  # auto | json | text
    log_level: str = "INFO"

    @field_validator("routing_rules", mode="before")
    @classmethod
    def _parse_rules(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON: {exc.msg} at position {exc.pos}") from exc
        return value

    @field_validator("approvers", "responders", "command_users", "command_channels", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("approvers", "responders", "command_users")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if not _USER_ID.match(user_id):
                raise ValueError(f"{user_id!r} is not a Slack user id (U… or W…)")
        return value

    @field_validator("slack_channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G… or D…)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be https, or http on localhost for a stand-in")
        # slack_sdk joins method names with urljoin, which drops the last path segment
        # unless the base ends with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("vt_api_url")
    @classmethod
    def _vt_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be https, or http on localhost for a stand-in")
        # vt-py appends /api/v3/... to the host as given.
        return value.rstrip("/")

    @field_validator(
        "scc_emulator_host", "run_emulator_host", "logging_emulator_host", "pubsub_emulator_host"
    )
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_PORT.match(value):
            raise ValueError(f"{value!r} is not host:port")
        return value

    @field_validator("command_channels")
    @classmethod
    def _channel_ids(cls, value: list[str]) -> list[str]:
        for channel in value:
            if not _CHANNEL_ID.match(channel):
                raise ValueError(f"{channel!r} is not a Slack channel id (C…, G… or D…)")
        return value

    @field_validator("slack_command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", value):
            raise ValueError(f"{value!r} is not a slash command such as /scc")
        return value

    @model_validator(mode="after")
    def _push_auth(self) -> Settings:
        # Any Google account can mint a token for any audience: the audience alone does not
        # say the request comes from our subscription, the service account does.
        if self.pubsub_push_verify and bool(self.pubsub_push_service_account) != bool(
            self.pubsub_push_audience
        ):
            raise ValueError(
                "PUBSUB_PUSH_AUDIENCE and PUBSUB_PUSH_SERVICE_ACCOUNT must be set together"
            )
        return self

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-…)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-…)")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must be the app's signing secret, not empty")
        return value

    @field_validator("approver_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"S[A-Z0-9]{2,}", value):
            raise ValueError(f"{value!r} is not a Slack user group id (S…)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in ("auto", "json", "text"):
            raise ValueError("must be auto, json or text")
        return value

    @field_validator("gcp_console_url")
    @classmethod
    def _console_url(cls, value: str) -> str:
        if not re.fullmatch(r"https://[A-Za-z0-9.\-]+(:\d+)?(/[\w\-./~%]*)?", value):
            raise ValueError("must be an https:// URL such as https://console.cloud.google.com")
        return value.rstrip("/")

    @field_validator("scc_parent")
    @classmethod
    def _scc_parent(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"(organizations|folders|projects)/([a-z0-9.\-]{1,63}:)?[a-z0-9\-]{1,63}", value
        ):
            raise ValueError("must be organizations/N, folders/N or projects/ID")
        return value

    @field_validator("pubsub_subscription")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"projects/[a-z0-9][a-z0-9\-:.]{4,62}/subscriptions/[A-Za-z][\w\-.~+%]{2,254}",
            value,
        ):
            raise ValueError("must be projects/PROJECT/subscriptions/NAME")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise ConfigError naming each bad variable."""
    from bot.secrets import SecretError, is_reference, references_in, resolve_references

    # Values naming Secret Manager versions (sm://...) are read before validation; an
    # override wins over the environment, as it does for plain values.
    references = references_in(os.environ, set(Settings.model_fields) - set(overrides))
    references.update({name: value for name, value in overrides.items() if is_reference(value)})
    try:
        overrides = {**overrides, **resolve_references(references)}
    except SecretError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = [str(part) for part in error["loc"]]
            detail = error["msg"].removeprefix("Value error, ")
            if not location:
                # A check across several settings; its message names them.
                problems.append(detail)
                continue
            variable = location[0].upper()
            inner = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in location[1:])
            if error["type"] == "missing" and not inner:
                detail = "is required but not set"
            problems.append(f"{variable}{': ' + inner.lstrip('.') if inner else ''}: {detail}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
