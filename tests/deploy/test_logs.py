"""Log lines: JSON with severity, finding and request trace on Google Cloud; text locally."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.finding import parse_notification
from bot.logs import (
    CloudJsonFormatter,
    ContextExecutor,
    ContextFilter,
    Trace,
    configure_logging,
    current_trace,
    finding_context,
    parse_trace_header,
    reset_trace,
    set_trace,
)
from tests.conftest import sample_bytes

TRACE_ID = "105445aa7843bc8bf206b12000100000"
KEY = parse_notification(sample_bytes("malicious_python_v2.json")).key


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"pubsub_push_verify": False}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Capture the root logger's lines in the Cloud JSON form, then restore it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(CloudJsonFormatter("acme-sec"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{TRACE_ID}/1;o=1", Trace(TRACE_ID, "1", True)),
        (f"{TRACE_ID.upper()}/77", Trace(TRACE_ID, "77", False)),
        (TRACE_ID, Trace(TRACE_ID, None, False)),
        ("not-a-trace", None),
        ("", None),
        (None, None),
    ],
)
def test_trace_header_parsing(header: str | None, expected: Trace | None) -> None:
    assert parse_trace_header(header) == expected


def test_push_request_lines_carry_the_trace_and_the_finding(
    services: Any, bot_server: str, json_lines: io.StringIO
) -> None:
    envelope = {
        "message": {
            "data": base64.b64encode(sample_bytes("malicious_python_v2.json")).decode(),
            "messageId": "m1",
        }
    }

    response = requests.post(
        f"{bot_server}/pubsub/push",
        data=json.dumps(envelope),
        headers={"X-Cloud-Trace-Context": f"{TRACE_ID}/42;o=1"},
        timeout=10,
    )

    assert response.status_code == 204
    outcome = [e for e in _entries(json_lines) if e.get("outcome") == "posted"]
    assert len(outcome) == 1
    entry = outcome[0]
    assert entry["severity"] == "INFO"
    assert entry["message"] == f"finding {KEY}: posted"
    assert entry["finding"] == KEY
    assert entry["logging.googleapis.com/trace"] == f"projects/acme-sec/traces/{TRACE_ID}"
    assert entry["logging.googleapis.com/spanId"] == "42"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    # The request's trace does not outlive it.
    assert current_trace() is None


def test_lines_inside_a_finding_are_tagged_without_extra(json_lines: io.StringIO) -> None:
    token = set_trace(f"{TRACE_ID}/7")
    try:
        with finding_context(KEY):
            logging.getLogger("bot.test").warning("Slack is slow")
        logging.getLogger("bot.test").error("after the finding")
    finally:
        reset_trace(token)

    inside, after = _entries(json_lines)
    assert (inside["severity"], inside["message"], inside["finding"]) == (
        "WARNING",
        "Slack is slow",
        KEY,
    )
    assert inside["logging.googleapis.com/trace"].endswith(TRACE_ID)
    assert "finding" not in after and after["severity"] == "ERROR"


def test_listener_pool_runs_work_in_the_submitting_request_context() -> None:
    token = set_trace(f"{TRACE_ID}/9;o=1")
    try:
        with ContextExecutor(max_workers=1) as pool:
            seen = pool.submit(current_trace).result(timeout=5)
    finally:
        reset_trace(token)

    assert seen == Trace(TRACE_ID, "9", True)


def test_exceptions_keep_their_stack_trace(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot.test").exception("could not process")

    (entry,) = _entries(json_lines)
    assert entry["severity"] == "ERROR"
    assert "ValueError: boom" in entry["stack_trace"]


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_json_on_google_cloud_and_text_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GAE_ENV", "K_SERVICE", "CLOUD_RUN_JOB", "GAE_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-sec")
    local = io.StringIO()
    configure_logging("INFO", "auto", stream=local)
    with finding_context(KEY):
        logging.getLogger("bot.test").info("posted to %s", "C0SECURITY")
    monkeypatch.setenv("GAE_ENV", "standard")
    cloud = io.StringIO()
    configure_logging("INFO", "auto", stream=cloud)
    logging.getLogger("bot.test").info("posted to %s", "C0SECURITY")

    line = local.getvalue().strip()
    assert " INFO    bot.test: posted to C0SECURITY [" + KEY + "]" in line
    assert not line.startswith("{")
    entry = json.loads(cloud.getvalue())
    assert (entry["severity"], entry["message"], entry["logger"]) == (
        "INFO",
        "posted to C0SECURITY",
        "bot.test",
    )
