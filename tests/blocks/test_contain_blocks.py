"""The containment builders, as plain functions on key fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from blocks.contain import (
    build_contain_modal,
    build_finding_buttons,
    build_request_message,
    containment_notice,
)
from blocks.finding import MessageContext, build_finding_message
from blocks.ids import ContainAction, ContainBlock, ContainCallback, FindingBlock
from bot.containment.execute import ActionResult
from bot.containment.plan import ActionKind, Plan, Planning
from bot.containment.store import ContainmentRequest, Status
from bot.finding import parse_notification
from bot.resources import CloudRunTarget, RunKind
from standins.block_kit import validate_blocks, validate_view
from tests.conftest import sample_bytes
from tests.slack_safety import live_tokens

SERVICE = "projects/acme-prod/locations/us-central1/services/payments-api"
NOW = datetime(2026, 5, 12, 10, 30, tzinfo=UTC)
TARGET = CloudRunTarget(RunKind.SERVICE, "acme-prod", "us-central1", "payments-api")
HOSTILE_PLAN = Plan(
    action=ActionKind.INGRESS_INTERNAL,
    resource=SERVICE,
    etag='"e1"',
    before={"ingress": "INGRESS_TRAFFIC_ALL"},
    after={"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"},
    change="ingress: all → internal only <!channel> <https://evil.example|x>",
    note="watch <@U0EVIL>",
)


def _request(status: Status, **changes: object) -> ContainmentRequest:
    values: dict[str, object] = {
        "id": "0" * 32,
        "finding_key": "organizations/1/sources/2/findings/f1",
        "resource": SERVICE,
        "channel": "C0SECURITY",
        "thread_ts": "1.000100",
        "request_ts": "1.000200",
        "requester": "U0ALICE",
        "reason": "miner <!here>",
        "mode": "execute",
        "plans": [HOSTILE_PLAN],
        "status": status,
        "decided_by": None,
        "decided_at": None,
        "results": [],
        "error": "",
        "undone_by": None,
        "undone_at": None,
        "replaced_by": None,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
        "updated_at": NOW,
    }
    values.update(changes)
    return ContainmentRequest(**values)  # type: ignore[arg-type]


def _action_ids(blocks: list[dict[str, object]]) -> list[object]:
    return [
        element["action_id"]
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]  # type: ignore[attr-defined]
    ]


def test_finding_buttons_offer_contain_only_for_cloud_run() -> None:
    with_run = build_finding_buttons('{"f":"x"}', cloud_run=True)
    without = build_finding_buttons('{"f":"x"}', cloud_run=False)

    assert with_run[0]["action_id"] == ContainAction.OPEN
    assert ContainAction.OPEN not in [b["action_id"] for b in without]
    assert all(b["value"] == '{"f":"x"}' for b in with_run)


def test_modal_lists_plans_with_checkboxes_and_a_reason() -> None:
    planning = Planning(TARGET, [HOSTILE_PLAN], skipped=["Ingress <!channel>"])

    view = build_contain_modal(planning, '{"f":"x"}')

    assert validate_view(view, expected_type="modal") == []
    assert view["callback_id"] == ContainCallback.MODAL
    assert view["private_metadata"] == '{"f":"x"}'
    block_ids = [b.get("block_id") for b in view["blocks"]]
    assert ContainBlock.ACTIONS in block_ids and ContainBlock.REASON in block_ids
    assert live_tokens("", view["blocks"]) == []


def test_modal_without_plans_has_no_submit() -> None:
    view = build_contain_modal(Planning(TARGET, [], skipped=["Nothing"]), '{"f":"x"}')

    assert "submit" not in view
    assert validate_view(view, expected_type="modal") == []


def test_pending_request_mentions_approvers_and_offers_decisions() -> None:
    message = build_request_message(
        _request(Status.PENDING), label="service payments-api", mentions=["<@U0BOB>"]
    )

    assert validate_blocks(message.blocks, "message") == []
    assert _action_ids(message.blocks) == [ContainAction.APPROVE, ContainAction.REJECT]
    assert live_tokens(message.text, message.blocks) == ["@U0ALICE", "@U0BOB"]


def test_pending_request_without_approvers_says_why_nobody_can_approve() -> None:
    message = build_request_message(
        _request(Status.PENDING), label="service payments-api", mentions=[]
    )

    assert "nobody can approve" in str(message.blocks)


def test_done_request_shows_results_and_undo() -> None:
    done = _request(
        Status.DONE,
        decided_by="U0BOB",
        decided_at=NOW,
        results=[
            ActionResult(ActionKind.INGRESS_INTERNAL, SERVICE, ok=True),
            ActionResult(ActionKind.DELETE_REVISION, SERVICE, ok=False, error="busy <!channel>"),
        ],
    )

    message = build_request_message(done, label="service payments-api", mentions=[])

    assert _action_ids(message.blocks) == [ContainAction.UNDO]
    assert "Done. Approved by <@U0BOB>" in str(message.blocks)
    assert "busy &lt;!channel&gt;" in str(message.blocks)


def test_nothing_undoable_means_no_undo_button() -> None:
    done = _request(
        Status.DONE,
        results=[ActionResult(ActionKind.CANCEL_EXECUTIONS, SERVICE, ok=True)],
    )

    message = build_request_message(done, label="job x", mentions=[])

    assert _action_ids(message.blocks) == []


def test_containment_notice_sits_under_the_finding_summary() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    notice = containment_notice(_request(Status.REJECTED, decided_by="U0BOB"))

    blocks = build_finding_message(record, MessageContext(notices=(notice,))).blocks

    ids = [block.get("block_id") for block in blocks]
    assert ids.index(FindingBlock.NOTICE) == ids.index(FindingBlock.SUMMARY) + 1
    assert notice.startswith("*Containment:* ")
    assert "Rejected" in notice
    assert validate_blocks(blocks) == []
