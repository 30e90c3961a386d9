from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from blocks.ids import HomeBlock
from bot.containment.plan import ActionKind, Plan
from bot.containment.store import ContainmentStore, utcnow
from bot.pipeline import Delivery
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import live_tokens

ALICE = "U0ALICE"
BOB = "U0BOB"
SERVICE = "projects/acme-prod/locations/us-central1/services/payments-api"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"approvers": [BOB]}


def _open_home(slack_requests: Any, slack: Any, user: str, *, tab: str = "home") -> Any:
    response = slack_requests.event(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        }
    )
    assert response.status_code == 200
    if tab != "home":
        return None
    slack.wait_for(lambda: user in slack.home_tabs)
    return slack.home_tabs[user]


def _by_id(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in blocks if "block_id" in block}


def _post(services: Any, name: str) -> str:
    services.pipeline.handle(Delivery(data=sample_bytes(name), message_id=name))
    return str(services.store.get(_key(name)).message_ts)


def _key(name: str) -> str:
    finding = json.loads(sample_bytes(name))["finding"]["name"]
    return str(finding)


def _request(services: Any, requester: str) -> Any:
    store = ContainmentStore(services.engine)
    plan = Plan(
        action=ActionKind.ROLLBACK_TRAFFIC,
        resource=SERVICE,
        etag="e1",
        before={},
        after={},
        change="traffic back to payments-api-00041",
    )
    return store.create(
        finding_key=_key("malicious_python_v2.json"),
        resource=SERVICE,
        channel=CHANNEL,
        thread_ts="1.000001",
        requester=requester,
        reason="stop the script",
        mode="execute",
        plans=[plan],
        expires_at=utcnow() + timedelta(minutes=30),
    )


def test_home_shows_open_findings_pending_requests_and_recent_actions(
    services: Any, slack_requests: Any, slack: Any
) -> None:
    python_ts = _post(services, "malicious_python_v2.json")
    _post(services, "reverse_shell_v2.json")
    _post(services, "malicious_url_v2.json")
    _request(services, ALICE)

    view = _open_home(slack_requests, slack, BOB)

    assert view["type"] == "home"
    blocks = _by_id(view["blocks"])
    counts = [field["text"] for field in blocks[HomeBlock.COUNTS]["fields"]]
    assert counts == [
        ":red_circle: *Critical*\n2",
        ":large_orange_circle: *High*\n1",
        ":large_yellow_circle: *Medium*\n0",
        ":white_circle: *Low*\n0",
    ]
    critical = blocks[f"{HomeBlock.NEWEST}.critical"]["text"]["text"]
    # Newest first: the reverse shell (10:21) before the malicious python (10:14).
    assert critical.index("Reverse Shell") < critical.index("Malicious Python")
    assert f"/archives/{CHANNEL}/p{python_ts.replace('.', '')}|Execution: Malicious" in critical
    assert f"{HomeBlock.NEWEST}.medium" not in blocks
    pending = blocks[HomeBlock.PENDING]["text"]["text"]
    assert f"<@{ALICE}> asks to" in pending
    assert "`projects/acme-prod/locations/us-central1/services/payments-api`" in pending
    assert "_you can approve_" in pending
    assert blocks[HomeBlock.ACTIONS]["text"]["text"] == "No containment actions yet."
    leftover = [t for t in live_tokens("", view["blocks"]) if t != f"@{ALICE}"]
    assert leftover == []


def test_home_of_someone_who_cannot_approve_says_nothing_about_approving(
    services: Any, slack_requests: Any, slack: Any
) -> None:
    _request(services, ALICE)

    view = _open_home(slack_requests, slack, ALICE)

    blocks = _by_id(view["blocks"])
    assert "_you can approve_" not in blocks[HomeBlock.PENDING]["text"]["text"]
    assert [field["text"][-1] for field in blocks[HomeBlock.COUNTS]["fields"]] == ["0"] * 4


def test_home_is_refreshed_on_every_open(services: Any, slack_requests: Any, slack: Any) -> None:
    first = _open_home(slack_requests, slack, BOB)
    assert "No pending requests." in json.dumps(first["blocks"])
    _request(services, ALICE)
    slack.home_tabs.clear()

    second = _open_home(slack_requests, slack, BOB)

    assert f"<@{ALICE}> asks to" in _by_id(second["blocks"])[HomeBlock.PENDING]["text"]["text"]
    assert len(slack.calls_to("views.publish", ok=True)) == 2


def test_messages_tab_publishes_nothing(slack_requests: Any, slack: Any) -> None:
    _open_home(slack_requests, slack, BOB, tab="messages")
    _open_home(slack_requests, slack, ALICE)

    assert [call.params["user_id"] for call in slack.calls_to("views.publish")] == [ALICE]


class TestRestricted:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"command_users": [ALICE]}

    def test_home_of_someone_not_allowed_shows_no_findings(
        self, services: Any, slack_requests: Any, slack: Any
    ) -> None:
        _post(services, "malicious_python_v2.json")

        view = _open_home(slack_requests, slack, "U0MALLORY")

        blocks = _by_id(view["blocks"])
        assert HomeBlock.DENIED in blocks
        assert HomeBlock.COUNTS not in blocks
        assert "Malicious" not in json.dumps(view["blocks"])
