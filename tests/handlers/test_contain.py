"""Containment end to end: signed Slack requests, the Slack, Cloud Run and SCC stand-ins."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.cloud import run_v2
from google.cloud import securitycenter_v2 as scc
from sqlalchemy import select, update

from blocks.ids import ContainAction, ContainBlock, ContainCallback, FindingBlock
from bot.containment.store import ContainmentStore, Status, utcnow
from bot.db import audit, containment_requests
from bot.housekeeping import Housekeeper
from bot.pipeline import Delivery
from bot.refs import finding_ref
from standins.cloud_run_sample import SERVICE
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import live_tokens

REQUESTER = "U0ALICE"  # a responder
BOB = "U0BOB"  # an approver
DAVE = "U0DAVE"  # an approver
CAROL = "U0CAROL"  # a responder, not an approver
MALLORY = "U0MALLORY"  # on no list


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, google_settings: dict[str, Any]) -> Any:
    values = {
        **google_settings,
        "approvers": [BOB, DAVE],
        "responders": [REQUESTER, CAROL],
    }
    return {**values, **getattr(request, "param", {})}


@pytest.fixture
def finding(slack_requests: Any, services: Any, slack: Any) -> dict[str, str]:
    """Post the sample finding; return its key and message ts."""
    services.pipeline.handle(
        Delivery(data=sample_bytes("malicious_python_v2.json"), message_id="m1")
    )
    posted = slack.calls_to("chat.postMessage", ok=True)[0]
    key = services.store.recent(since=utcnow() - timedelta(hours=1))[0].key
    return {"key": key, "ts": posted.response["ts"]}


def _mutations(run: Any) -> list[Any]:
    return [
        *run.requests_to("UpdateService"),
        *run.requests_to("SetIamPolicy"),
        *run.requests_to("DeleteRevision"),
        *run.requests_to("CancelExecution"),
    ]


def _submit(
    slack_requests: Any,
    slack: Any,
    finding: dict[str, str],
    actions: list[str],
    *,
    user: str = REQUESTER,
    reason: str = "crypto miner running",
) -> str:
    """Submit the modal and return the id of the approval request it posts."""
    before = len(slack.thread(CHANNEL, finding["ts"]))
    response = slack_requests.view_submission(
        user=user,
        callback_id=ContainCallback.MODAL,
        private_metadata=finding_ref(finding["key"]),
        values=_values(actions, reason),
    )
    assert response.status_code == 200
    slack.wait_for(lambda: len(slack.thread(CHANNEL, finding["ts"])) > before)
    return _request_id(slack.thread(CHANNEL, finding["ts"])[-1])


def _values(actions: list[str], reason: str) -> dict[str, Any]:
    return {
        ContainBlock.ACTIONS: {
            ContainAction.CHOOSE: {
                "type": "checkboxes",
                "selected_options": [{"value": a} for a in actions],
            }
        },
        ContainBlock.REASON: {ContainAction.REASON: {"type": "plain_text_input", "value": reason}},
    }


def _request_id(message: Any) -> str:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == ContainAction.APPROVE:
                return str(element["value"])
    raise AssertionError("no approve button")


def _click(slack_requests: Any, action: str, request_id: str, user: str) -> None:
    response = slack_requests.block_action(user=user, action_id=action, value=request_id)
    assert response.status_code == 200


def _status(services: Any, request_id: str) -> Status:
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None
    return request.status


def _wait_status(services: Any, slack: Any, request_id: str, *wanted: Status) -> None:
    slack.wait_for(lambda: _status(services, request_id) in wanted)


def _ephemeral_to(slack: Any, user: str) -> str:
    slack.wait_for(lambda: any(e.user == user for e in slack.ephemerals))
    return next(e.text for e in slack.ephemerals if e.user == user)


def _status_line(slack: Any, ts: str) -> str:
    blocks = slack.messages[(CHANNEL, ts)].blocks
    return _block_texts([b for b in blocks if b.get("block_id") == FindingBlock.NOTICE])


def _block_texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_finding_message_offers_contain_and_scc_buttons(finding: Any, slack: Any) -> None:
    posted = slack.calls_to("chat.postMessage", ok=True)[0]

    actions = [
        e["action_id"]
        for b in posted.params["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
    ]

    assert ContainAction.OPEN in actions
    assert ContainAction.SCC_MUTE in actions


def test_contain_opens_a_modal_with_plans_from_the_live_service(
    slack_requests: Any, slack: Any, finding: dict[str, str], run_standin: Any
) -> None:
    slack_requests.block_action(
        user=REQUESTER, action_id=ContainAction.OPEN, value=finding_ref(finding["key"])
    )

    slack.wait_for(lambda: bool(slack.calls_to("views.open", ok=True)))
    view = slack.calls_to("views.open", ok=True)[0].params["view"]
    assert view["callback_id"] == ContainCallback.MODAL
    assert view["private_metadata"] == finding_ref(finding["key"])
    shown = _block_texts(view["blocks"])
    assert "100% payments-api-00041-abc" in shown
    assert "roles/run.invoker: remove allUsers" in shown
    options = next(b for b in view["blocks"] if b.get("block_id") == ContainBlock.ACTIONS)
    assert [o["value"] for o in options["element"]["options"]] == [
        "rollback_traffic",
        "ingress_internal",
        "remove_public_invoker",
        "disable_default_url",
        "delete_revision",
    ]
    assert _mutations(run_standin) == []


def test_outsider_cannot_propose(slack_requests: Any, slack: Any, finding: dict[str, str]) -> None:
    slack_requests.block_action(
        user=MALLORY, action_id=ContainAction.OPEN, value=finding_ref(finding["key"])
    )

    assert "Only responders" in _ephemeral_to(slack, MALLORY)
    assert slack.calls_to("views.open") == []


def test_submission_without_reason_is_refused_in_the_modal(
    slack_requests: Any, slack: Any, finding: dict[str, str]
) -> None:
    response = slack_requests.view_submission(
        user=REQUESTER,
        callback_id=ContainCallback.MODAL,
        private_metadata=finding_ref(finding["key"]),
        values=_values([], "  "),
    )

    assert response.json()["response_action"] == "errors"
    assert set(response.json()["errors"]) == {ContainBlock.ACTIONS, ContainBlock.REASON}
    assert slack.thread(CHANNEL, finding["ts"]) == []


def test_submission_posts_the_request_in_the_thread_and_changes_nothing(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])

    message = slack.thread(CHANNEL, finding["ts"])[-1]
    shown = _block_texts(message.blocks)
    assert f"<@{REQUESTER}> asks to contain" in shown
    assert "crypto miner running" in shown
    assert "ingress: all → internal only" in shown
    assert f"<@{BOB}> <@{DAVE}>" in shown
    assert live_tokens(message.text, message.blocks) == [
        f"@{REQUESTER}",
        f"@{BOB}",
        f"@{DAVE}",
    ]
    assert _status(services, request_id) is Status.PENDING
    assert _mutations(run_standin) == []
    with services.engine.connect() as conn:
        events = conn.execute(select(audit.c.event, audit.c.actor)).all()
    assert [tuple(e) for e in events] == [("request", REQUESTER)]


def test_requester_cannot_approve_their_own_request(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"], user=BOB)

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)

    assert "second person" in _ephemeral_to(slack, BOB)
    assert _status(services, request_id) is Status.PENDING
    assert _mutations(run_standin) == []


def test_non_approver_cannot_approve(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])

    _click(slack_requests, ContainAction.APPROVE, request_id, CAROL)

    assert "Only approvers" in _ephemeral_to(slack, CAROL)
    assert _status(services, request_id) is Status.PENDING
    assert _mutations(run_standin) == []


def test_double_approval_executes_once_and_shows_the_outcome(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal", "rollback_traffic"])

    clicks = [
        threading.Thread(target=_click, args=(slack_requests, ContainAction.APPROVE, request_id, u))
        for u in (BOB, DAVE, BOB)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    _wait_status(services, slack, request_id, Status.DONE)
    slack.wait_for(lambda: len(slack.ephemerals) == 2)

    (update_request,) = run_standin.requests_to("UpdateService")
    assert list(update_request.update_mask.paths) == ["traffic", "ingress"]
    assert update_request.service.etag == '"CMiPk8EGEPjb0tYD"'
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None and request.decided_by in (BOB, DAVE)
    assert all("already handled by" in e.text for e in slack.ephemerals)
    # The approval request now shows the outcome and offers Undo.
    slack.wait_for(
        lambda: "Done." in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
    )
    shown = _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
    assert f"Done. Approved by <@{request.decided_by}>" in shown
    assert ContainAction.UNDO in shown
    assert ContainAction.APPROVE not in shown
    # The finding message carries a status line; the thread has the outcome.
    slack.wait_for(lambda: "Done." in _status_line(slack, finding["ts"]))
    replies = [_block_texts(m.blocks) for m in slack.thread(CHANNEL, finding["ts"])]
    assert any(
        "*Containment of service payments-api:* :white_check_mark: Done." in r for r in replies
    )
    with services.engine.connect() as conn:
        events = [row.event for row in conn.execute(select(audit.c.event))]
    assert events == ["request", "approve", "execute"]


def test_changed_etag_replans_and_asks_again(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    run_standin.services[SERVICE].etag = '"changed-by-someone"'

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)
    _wait_status(services, slack, request_id, Status.REPLANNED)

    assert _mutations(run_standin) == []
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None and request.replaced_by
    slack.wait_for(
        lambda: any(
            ContainAction.APPROVE in _block_texts(m.blocks)
            and request.replaced_by in _block_texts(m.blocks)
            for m in slack.thread(CHANNEL, finding["ts"])
        )
    )
    fresh = ContainmentStore(services.engine).get(request.replaced_by)
    assert fresh is not None and fresh.status is Status.PENDING
    assert fresh.plans[0].etag == '"changed-by-someone"'
    assert fresh.requester == REQUESTER


def test_operation_error_is_shown_as_failure(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    run_standin.fail_next_operation(
        "UpdateService", grpc.StatusCode.INTERNAL, "ingress controller unavailable"
    )

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)
    _wait_status(services, slack, request_id, Status.FAILED)

    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None and request.error == "ingress controller unavailable"
    slack.wait_for(
        lambda: (
            "ingress controller unavailable"
            in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
        )
    )
    assert run_standin.services[SERVICE].ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL


def test_expired_request_cannot_be_approved(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    with services.engine.begin() as conn:
        conn.execute(
            update(containment_requests)
            .where(containment_requests.c.id == request_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)

    assert "expired" in _ephemeral_to(slack, BOB)
    assert _status(services, request_id) is Status.EXPIRED
    assert _mutations(run_standin) == []
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None
    assert "Expired" in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)


def test_overdue_request_expires_without_a_click(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    with services.engine.begin() as conn:
        conn.execute(
            update(containment_requests)
            .where(containment_requests.c.id == request_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    # The runtime's housekeeping thread runs the task the containment surface registered.
    Housekeeper(services.periodic).run_once()

    assert _status(services, request_id) is Status.EXPIRED
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None
    assert "Expired" in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
    assert "Expired" in _status_line(slack, finding["ts"])
    assert _mutations(run_standin) == []


def test_reject_is_shown_with_who_rejected(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])

    _click(slack_requests, ContainAction.REJECT, request_id, DAVE)
    _wait_status(services, slack, request_id, Status.REJECTED)

    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None
    slack.wait_for(
        lambda: (
            f"Rejected by <@{DAVE}>"
            in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
        )
    )
    assert _mutations(run_standin) == []


def test_undo_restores_the_previous_state(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(
        slack_requests, slack, finding, ["ingress_internal", "remove_public_invoker"]
    )
    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)
    _wait_status(services, slack, request_id, Status.DONE)
    assert [b.role for b in run_standin.policies[SERVICE].bindings] == ["roles/run.developer"]

    _click(slack_requests, ContainAction.UNDO, request_id, CAROL)
    assert "Only approvers may undo" in _ephemeral_to(slack, CAROL)
    _click(slack_requests, ContainAction.UNDO, request_id, DAVE)
    _wait_status(services, slack, request_id, Status.UNDONE)

    live = run_standin.services[SERVICE]
    assert live.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL
    restored = {b.role: list(b.members) for b in run_standin.policies[SERVICE].bindings}
    assert restored["roles/run.invoker"] == ["allUsers"]
    undo_update = run_standin.requests_to("UpdateService")[-1]
    assert list(undo_update.update_mask.paths) == ["ingress"]
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None and request.undone_by == DAVE


@pytest.mark.parametrize("settings_overrides", [{"containment_mode": "plan-only"}], indirect=True)
def test_plan_only_records_the_approval_and_sends_nothing(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal", "rollback_traffic"])

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)
    _wait_status(services, slack, request_id, Status.RECORDED)

    assert _mutations(run_standin) == []
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None and request.decided_by == BOB
    slack.wait_for(
        lambda: (
            "Plan-only mode" in _block_texts(slack.messages[(CHANNEL, request.request_ts)].blocks)
        )
    )


@pytest.mark.parametrize(
    "settings_overrides", [{"approvers": [], "approver_group": "S0SECLEADS"}], indirect=True
)
def test_user_group_members_can_approve(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    slack.set_usergroup("S0SECLEADS", ["U0ERIN"])
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    assert "<!subteam^S0SECLEADS>" in _block_texts(slack.thread(CHANNEL, finding["ts"])[-1].blocks)

    _click(slack_requests, ContainAction.APPROVE, request_id, "U0ERIN")
    _wait_status(services, slack, request_id, Status.DONE)

    assert len(run_standin.requests_to("UpdateService")) == 1
    assert slack.calls_to("usergroups.users.list", ok=True)[0].params["usergroup"] == "S0SECLEADS"


@pytest.mark.parametrize("settings_overrides", [{"approvers": []}], indirect=True)
def test_without_approvers_nobody_can_approve(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], run_standin: Any
) -> None:
    request_id = _submit(slack_requests, slack, finding, ["ingress_internal"])
    assert "nobody can approve" in _block_texts(slack.thread(CHANNEL, finding["ts"])[-1].blocks)

    _click(slack_requests, ContainAction.APPROVE, request_id, BOB)

    assert "No approvers are configured" in _ephemeral_to(slack, BOB)
    assert _status(services, request_id) is Status.PENDING
    assert _mutations(run_standin) == []


def test_responder_mutes_and_resolves_in_scc(
    slack_requests: Any, slack: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    for action in (ContainAction.SCC_MUTE, ContainAction.SCC_RESOLVE):
        slack_requests.block_action(user=CAROL, action_id=action, value=finding_ref(finding["key"]))
    slack.wait_for(lambda: len(slack.thread(CHANNEL, finding["ts"])) == 2)

    (mute,) = scc_standin.recorder.requests_to("SetMute")
    assert (mute.name, mute.mute) == (finding["key"], scc.Finding.Mute.MUTED)
    (state,) = scc_standin.recorder.requests_to("SetFindingState")
    assert (state.name, state.state) == (finding["key"], scc.Finding.State.INACTIVE)


def test_security_marks_record_thread_and_containment(
    slack_requests: Any, slack: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    slack_requests.block_action(
        user=BOB, action_id=ContainAction.SCC_MARKS, value=finding_ref(finding["key"])
    )
    slack.wait_for(lambda: bool(scc_standin.recorder.requests_to("UpdateSecurityMarks")))

    (marks,) = scc_standin.recorder.requests_to("UpdateSecurityMarks")
    assert list(marks.update_mask.paths) == ["marks.slack_thread", "marks.containment"]
    assert marks.security_marks.name == finding["key"] + "/securityMarks"
    assert dict(marks.security_marks.marks) == {
        "slack_thread": f"{CHANNEL}/{finding['ts']}",
        "containment": "none",
    }


def test_outsider_cannot_change_scc(
    slack_requests: Any, slack: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    slack_requests.block_action(
        user=MALLORY, action_id=ContainAction.SCC_MUTE, value=finding_ref(finding["key"])
    )

    assert "Only responders" in _ephemeral_to(slack, MALLORY)
    assert scc_standin.recorder.requests_to("SetMute") == []


# -- refusals around the modal ---------------------------------------------------------------


def _submission(
    slack_requests: Any, user: str, metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    response = slack_requests.view_submission(
        user=user, callback_id=ContainCallback.MODAL, private_metadata=metadata, values=values
    )
    assert response.status_code == 200
    return dict(response.json()) if response.content else {}


def test_outsider_submission_is_refused_in_the_modal(
    slack_requests: Any, slack: Any, finding: dict[str, str]
) -> None:
    answer = _submission(
        slack_requests, MALLORY, finding_ref(finding["key"]), _values(["ingress_internal"], "x")
    )

    assert answer["response_action"] == "errors"
    (message,) = answer["errors"].values()
    assert set(answer["errors"]) == {ContainBlock.ACTIONS}
    assert message.startswith("Only responders (RESPONDERS) and approvers")
    assert slack.thread(CHANNEL, finding["ts"]) == []


def test_submission_for_a_finding_the_bot_lacks_is_refused_in_the_modal(
    slack_requests: Any, slack: Any, finding: dict[str, str], run_standin: Any
) -> None:
    other = finding["key"].replace("123456789012", "999999999999")

    answer = _submission(slack_requests, REQUESTER, finding_ref(other), _values([], ""))

    assert answer == {
        "response_action": "errors",
        "errors": {ContainBlock.ACTIONS: "The bot no longer has this finding."},
    }
    assert slack.thread(CHANNEL, finding["ts"]) == []
    assert run_standin.requests_to("GetService") == []


def test_refusal_after_the_submission_reaches_the_person_by_direct_message(
    slack_requests: Any, slack: Any, finding: dict[str, str]
) -> None:
    # Cancelling job executions never applies to a service; that is known only after ack.
    answer = _submission(
        slack_requests, REQUESTER, finding_ref(finding["key"]), _values(["cancel_executions"], "x")
    )
    assert answer == {}
    slack.wait_for(lambda: slack.dm_channel(REQUESTER) is not None)

    dm = slack.dm_channel(REQUESTER)
    (told,) = [m for (channel, _), m in slack.messages.items() if channel == dm]
    assert told.text == "None of the chosen actions applies any more."
    assert slack.calls_to("chat.postMessage", ok=True)[-1].params["channel"] == REQUESTER
    assert slack.thread(CHANNEL, finding["ts"]) == []


def test_submission_skips_malformed_options(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str]
) -> None:
    values = _values([], "crypto miner")
    choose = values[ContainBlock.ACTIONS][ContainAction.CHOOSE]
    choose["selected_options"] = [None]

    refused = _submission(slack_requests, REQUESTER, finding_ref(finding["key"]), values)
    choose["selected_options"] = [None, 7, {"value": ["x"]}, {"value": "ingress_internal"}]
    accepted = _submission(slack_requests, REQUESTER, finding_ref(finding["key"]), values)

    assert refused["errors"] == {ContainBlock.ACTIONS: "Choose at least one action."}
    assert accepted == {}
    slack.wait_for(lambda: len(slack.thread(CHANNEL, finding["ts"])) == 1)
    request_id = _request_id(slack.thread(CHANNEL, finding["ts"])[0])
    request = ContainmentStore(services.engine).get(request_id)
    assert request is not None
    assert [p.action for p in request.plans] == ["ingress_internal"]


# -- SCC write-back refusals -----------------------------------------------------------------


def test_scc_click_for_a_finding_the_bot_never_received_changes_nothing(
    slack_requests: Any, slack: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    foreign = finding["key"].replace("123456789012", "999999999999")
    calls_before = len(scc_standin.recorder.requests)

    slack_requests.block_action(
        user=CAROL, action_id=ContainAction.SCC_MUTE, value=finding_ref(foreign)
    )

    assert "has not received this finding" in _ephemeral_to(slack, CAROL)
    assert len(scc_standin.recorder.requests) == calls_before


def test_scc_button_naming_another_finding_than_its_message_is_refused(
    slack_requests: Any, slack: Any, services: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    services.pipeline.handle(Delivery(data=sample_bytes("malicious_url_v2.json"), message_id="m2"))
    other = next(s.key for s in services.store.recent(since=utcnow() - timedelta(hours=1)))
    assert other != finding["key"]

    slack_requests.block_action(
        user=CAROL,
        action_id=ContainAction.SCC_RESOLVE,
        value=finding_ref(other),
        channel=CHANNEL,
        message_ts=finding["ts"],
    )

    assert "names another finding" in _ephemeral_to(slack, CAROL)
    assert scc_standin.recorder.requests_to("SetFindingState") == []


def test_scc_click_on_the_findings_own_message_is_carried_out(
    slack_requests: Any, slack: Any, finding: dict[str, str], scc_standin: Any
) -> None:
    slack_requests.block_action(
        user=CAROL,
        action_id=ContainAction.SCC_MUTE,
        value=finding_ref(finding["key"]),
        channel=CHANNEL,
        message_ts=finding["ts"],
    )
    slack.wait_for(lambda: len(slack.thread(CHANNEL, finding["ts"])) == 1)

    (mute,) = scc_standin.recorder.requests_to("SetMute")
    assert mute.name == finding["key"]


@pytest.mark.parametrize(
    ("action", "method", "code", "says"),
    [
        (
            ContainAction.SCC_MUTE,
            "SetMute",
            grpc.StatusCode.NOT_FOUND,
            "Security Command Center has no such finding any more",
        ),
        (
            ContainAction.SCC_RESOLVE,
            "SetFindingState",
            grpc.StatusCode.PERMISSION_DENIED,
            "`roles/securitycenter.findingsStateSetter`",
        ),
        (
            ContainAction.SCC_MARKS,
            "ListFindings",
            grpc.StatusCode.PERMISSION_DENIED,
            "`roles/securitycenter.findingsViewer`",
        ),
    ],
)
def test_scc_refusals_are_explained(
    slack_requests: Any,
    slack: Any,
    finding: dict[str, str],
    scc_standin: Any,
    action: str,
    method: str,
    code: grpc.StatusCode,
    says: str,
) -> None:
    scc_standin.recorder.fail_next(method, code, "refused")

    slack_requests.block_action(user=BOB, action_id=action, value=finding_ref(finding["key"]))

    told = _ephemeral_to(slack, BOB)
    assert says in told
    assert "Something went wrong" not in told
    assert slack.thread(CHANNEL, finding["ts"]) == []
