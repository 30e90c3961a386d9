"""app.yaml, gunicorn.conf.py and bot.wsgi describe one server, with no secret in a file."""

from __future__ import annotations

import logging
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import wsgi
from bot.config import Settings
from tests.conftest import CHANNEL, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET_FIELDS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
} | {"DATABASE_URL"}


def test_app_yaml_runs_gunicorn_with_the_shared_config() -> None:
    app = yaml.safe_load((ROOT / "app.yaml").read_text())

    assert app["runtime"] == "python312"
    assert app["entrypoint"] == "gunicorn -c gunicorn.conf.py bot.wsgi:app"
    assert app["includes"] == ["app.secrets.yaml"]
    assert "warmup" in app["inbound_services"]
    scaling = app["automatic_scaling"]
    assert scaling["min_instances"] >= 1
    assert scaling["max_concurrent_requests"] == wsgi.SERVER_OPTIONS["threads"]
    assert not set(app["env_variables"]) & SECRET_FIELDS
    assert "PUBSUB_SUBSCRIPTION" not in app["env_variables"]  # push, not pull, on App Engine


def test_secrets_sample_names_secret_versions_only() -> None:
    sample = yaml.safe_load((ROOT / "app.secrets.yaml.sample").read_text())["env_variables"]

    secret_values = {name: value for name, value in sample.items() if name in SECRET_FIELDS}
    assert set(secret_values) == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "VT_API_KEY",
        "DATABASE_URL",
    }
    for value in secret_values.values():
        assert value.startswith("sm://projects/PROJECT_ID/secrets/")
        assert value.endswith("/versions/latest")
    assert "app.secrets.yaml" in (ROOT / ".gitignore").read_text().splitlines()


def test_gunicorn_conf_uses_the_server_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8081")
    monkeypatch.delenv("HOST", raising=False)

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert conf["bind"] == "0.0.0.0:8081"
    for name, value in wsgi.SERVER_OPTIONS.items():
        assert conf[name] == value, name
    assert conf["preload_app"] is False
    assert conf["worker_class"] == "gthread"


@pytest.fixture
def wsgi_environment(monkeypatch: pytest.MonkeyPatch, slack: Any, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'wsgi.db'}")
    monkeypatch.setenv("LOG_FORMAT", "text")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    wsgi.shutdown()
    # Building the app configures logging for the process; give the next tests theirs back.
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("wsgi_environment")
def test_wsgi_app_is_built_once_on_first_access_and_answers_warmup() -> None:
    from werkzeug.test import Client

    app = wsgi.app
    client = Client(app)

    assert wsgi.app is app
    # The warmup request waits for the app, built in the background, then answers.
    assert client.get("/_ah/warmup").json == {"status": "warm"}
    assert app.wait(timeout=0)
    assert client.get("/readyz").json == {"status": "ready"}
    with pytest.raises(AttributeError):
        _ = wsgi.application


def test_liveness_answers_while_the_app_is_still_starting() -> None:
    import threading

    from werkzeug.test import Client

    from bot.serving import WarmingApp

    release = threading.Event()

    def slow_build() -> Any:
        release.wait(5)
        return lambda environ, start_response: (start_response("200 OK", []), [b"built"])[1]

    app = WarmingApp(slow_build)
    client = Client(app)

    assert client.get("/healthz").json == {"status": "starting"}
    starting = client.get("/readyz")
    assert starting.status_code == 503
    assert starting.headers["Retry-After"] == "1"
    assert client.post("/pubsub/push").status_code == 503

    release.set()
    assert app.wait(timeout=5)
    assert client.get("/readyz").data == b"built"
