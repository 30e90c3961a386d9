from __future__ import annotations

import time
from typing import Any

from standins.slack_requests import sign


def test_link_button_click_is_acknowledged(slack_requests: Any) -> None:
    response = slack_requests.block_action(user="U0ALICE", action_id="finding.open_console")

    assert response.status_code == 200


def test_bad_signature_is_refused(slack_requests: Any) -> None:
    body = b"payload=%7B%7D"

    response = slack_requests.post(
        body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64
    )

    assert response.status_code == 401


def test_stale_timestamp_is_refused(slack_requests: Any) -> None:
    stale = int(time.time()) - 6 * 60
    body = b"command=%2Fscc&text=help"

    response = slack_requests.post(
        body,
        "application/x-www-form-urlencoded",
        timestamp=stale,
        signature=sign("test-signing-secret", str(stale), body),
    )

    assert response.status_code == 401


def test_body_altered_after_signing_is_refused(slack_requests: Any) -> None:
    stamp = str(int(time.time()))
    signed = b"command=%2Fscc&text=help"

    response = slack_requests.post(
        b"command=%2Fscc&text=list",
        "application/x-www-form-urlencoded",
        timestamp=int(stamp),
        signature=sign("test-signing-secret", stamp, signed),
    )

    assert response.status_code == 401


def test_health_and_metrics(bot_server: str) -> None:
    import requests

    assert requests.get(f"{bot_server}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{bot_server}/readyz", timeout=5)
    assert ready.status_code == 200
    metrics = requests.get(f"{bot_server}/metrics", timeout=5)
    assert "scc_findings_received" in metrics.text


def test_replayed_request_is_refused_and_has_no_side_effect(
    slack_requests: Any, slack: Any
) -> None:
    stamp = str(int(time.time()))
    body = b"command=%2Fscc&text=help&user_id=U0ALICE&channel_id=C0SECURITY&response_url=x"
    signature = sign("test-signing-secret", stamp, body)

    first = slack_requests.post(
        body, "application/x-www-form-urlencoded", timestamp=int(stamp), signature=signature
    )
    again = slack_requests.post(
        body, "application/x-www-form-urlencoded", timestamp=int(stamp), signature=signature
    )

    assert first.status_code == 200
    assert again.status_code == 401
    assert again.text == "replayed request"


def test_missing_signature_headers_are_refused(bot_server: str, slack: Any) -> None:
    import requests

    response = requests.post(
        f"{bot_server}/slack/events",
        data=b"command=%2Fscc&text=help",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )

    assert response.status_code == 401
    assert slack.calls == []


def test_replay_check_lets_signed_requests_through_when_the_database_is_down(
    slack_requests: Any, services: Any, caplog: Any
) -> None:
    import sqlite3

    from sqlalchemy import event

    def database_down(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "slack_requests_seen" in statement:
            raise sqlite3.OperationalError("unable to open database file")

    event.listen(services.engine, "before_cursor_execute", database_down)

    response = slack_requests.block_action(user="U0ALICE", action_id="finding.open_console")

    assert response.status_code == 200
    assert "replay check skipped, database unavailable" in caplog.text
