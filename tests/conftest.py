"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.slack_client import ChannelPacer

pytest_plugins = ["tests.pubsub_fixtures"]

SAMPLES = Path(__file__).resolve().parent.parent / "bot" / "samples"

# Variables the bot reads; cleared so a developer's shell or .env cannot leak into tests.
_BOT_VARIABLES = [name.upper() for name in Settings.model_fields] + [
    "SECRETMANAGER_EMULATOR_HOST",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _BOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # pydantic-settings reads .env from the working directory.
    monkeypatch.chdir(tmp_path)


def sample_bytes(name: str) -> bytes:
    """Return a bundled sample notification."""
    return (SAMPLES / name).read_bytes()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


def pytest_report_header() -> str:
    return f"bot samples: {SAMPLES} ({len(os.listdir(SAMPLES))} files)"


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    from tests.postgres import postgres_available, postgres_server

    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing; .ci/run should install them")
        pytest.skip("PostgreSQL server binaries are not installed")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, and the same on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    from tests.postgres import create_database

    return create_database(request.getfixturevalue("postgres_base_url"))


SIGNING_SECRET = "test-signing-secret"
CHANNEL = "C0SECURITY"


@pytest.fixture
def slack() -> Iterator[Any]:
    """The Slack Web API stand-in."""
    from standins.slack_api import SlackStandIn

    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def make_settings(slack: Any, tmp_path: Path) -> Any:
    """Build Settings pointed at the stand-ins; keyword arguments override."""
    from bot.config import Settings

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": slack.bot_token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.base_url,
            "slack_channel": CHANNEL,
            "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for the ``services`` fixture; override this fixture in a test module."""
    return {}


@pytest.fixture
def services(make_settings: Any, settings_overrides: dict[str, Any]) -> Iterator[Any]:
    """Services on SQLite and the Slack stand-in, with the schema created."""
    from bot.db import create_schema
    from bot.services import build_services

    built = build_services(make_settings(**settings_overrides))
    create_schema(built.engine)
    # Fail fast in tests: no multi-second backoff between Slack retries, and no pacing to
    # Slack's one post a second per channel (the stand-in enforces it only when asked).
    built.slack.retry_handlers = []
    fast = ChannelPacer(per_second=1000.0, burst=1000)
    built.pipeline.pacer = fast
    if built.digests is not None:
        built.digests.pacer = fast
    yield built
    built.close()


@pytest.fixture
def bot_server(services: Any) -> Iterator[str]:
    """Serve the bot's HTTP app on 127.0.0.1 at a free port; yield its base URL."""
    import threading

    from werkzeug.serving import make_server

    from bot.app import build_http_app

    server = make_server("127.0.0.1", 0, build_http_app(services), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def slack_requests(bot_server: str, slack: Any) -> Any:
    """Signed Slack requests to the running bot; respond() lands in slack.responses["r1"]."""
    from standins.slack_requests import SlackRequests

    return SlackRequests(bot_server, SIGNING_SECRET, response_url=slack.response_url("r1"))


@pytest.fixture
def scc_standin() -> Iterator[Any]:
    """The SCC v2 stand-in, seeded with every bundled sample finding."""
    from standins.scc import SccStandIn

    standin = SccStandIn()
    for path in sorted(SAMPLES.glob("*_v2.json")):
        standin.add_notification_json(path.read_text())
    with standin:
        yield standin


@pytest.fixture
def run_standin() -> Iterator[Any]:
    """The Cloud Run v2 stand-in, seeded with the payments-api service and nightly job."""
    from standins.cloud_run import CloudRunStandIn

    with CloudRunStandIn.sample_payments_api() as standin:
        yield standin


@pytest.fixture
def logging_standin() -> Iterator[Any]:
    """The Cloud Logging v2 stand-in, seeded with payments-api entries."""
    from standins.cloud_logging import LoggingStandIn

    standin = LoggingStandIn()
    standin.sample_entries_for_payments_api()
    with standin:
        yield standin


@pytest.fixture
def google_settings(scc_standin: Any, run_standin: Any, logging_standin: Any) -> dict[str, Any]:
    """Settings overrides that point the Google clients at the stand-ins."""
    return {
        "scc_emulator_host": scc_standin.address,
        "run_emulator_host": run_standin.address,
        "logging_emulator_host": logging_standin.address,
        "scc_parent": "organizations/123456789012",
    }
