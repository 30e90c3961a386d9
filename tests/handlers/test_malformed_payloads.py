"""Signed but malformed Slack requests: refused with 400, never a 500 page or a traceback."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from blocks.ids import ContainAction, ContainBlock, ContainCallback
from bot.containment.plan import ActionKind
from bot.errors import UserFacingError
from bot.refs import finding_ref
from handlers.contain import clicked_message, request_id_of, submitted_choice, user_of
from standins.slack_requests import TEAM_ID

FORM = "application/x-www-form-urlencoded"
FINDING = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)


def _form(payload: str) -> bytes:
    return urlencode({"payload": payload}).encode()


def _block_actions(actions: Any) -> str:
    return json.dumps(
        {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": "U0ALICE", "team_id": TEAM_ID},
            "api_app_id": "A0BOT",
            "trigger_id": "1.T0TEST.trigger",
            "channel": {"id": "C0SECURITY"},
            "container": {"type": "message", "channel_id": "C0SECURITY", "message_ts": "1.2"},
            "actions": actions,
        }
    )


def _submission(selected: list[Any], reason: Any = "crypto miner") -> str:
    return json.dumps(
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": "U0ALICE", "team_id": TEAM_ID},
            "api_app_id": "A0BOT",
            "view": {
                "id": "V0001",
                "type": "modal",
                "callback_id": ContainCallback.MODAL,
                "private_metadata": finding_ref(FINDING),
                "state": {
                    "values": {
                        ContainBlock.ACTIONS: {
                            ContainAction.CHOOSE: {
                                "type": "checkboxes",
                                "selected_options": selected,
                            }
                        },
                        ContainBlock.REASON: {
                            ContainAction.REASON: {"type": "plain_text_input", "value": reason}
                        },
                    }
                },
            },
        }
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_form("notjson"), FORM),
        (_form("[1,2]"), FORM),
        (_form('"text"'), FORM),
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (_form(_block_actions([])), FORM),
        (_form(_block_actions("x")), FORM),
        (_form(_block_actions([{"value": "v"}])), FORM),
        (_form(json.dumps({"type": "view_submission", "view": "contain.modal"})), FORM),
        (_form(json.dumps({"type": "block_actions", "user": "U0ALICE", "actions": []})), FORM),
        # Bolt reads "authorizations" as a list of objects; the route catches what it raises.
        (json.dumps({"type": "event_callback", "authorizations": "x"}).encode(), FORM),
    ],
    ids=[
        "payload-not-json",
        "payload-list",
        "payload-string",
        "json-truncated",
        "json-list",
        "no-actions",
        "actions-not-a-list",
        "action-without-id",
        "view-not-an-object",
        "user-not-an-object",
        "bolt-raises",
    ],
)
def test_unreadable_bodies_get_400_in_plain_text(
    slack_requests: Any, slack: Any, body: bytes, content_type: str
) -> None:
    response = slack_requests.post(body, content_type)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("malformed Slack request")
    assert "<" not in response.text and len(response.text) < 200
    assert slack.calls == []


def test_well_formed_requests_still_reach_bolt(slack_requests: Any) -> None:
    unknown = slack_requests.post(_form(_block_actions([{"action_id": "nobody.listens"}])), FORM)
    challenge = slack_requests.post(
        json.dumps({"type": "url_verification", "challenge": "c-123"}).encode(),
        "application/json",
    )

    # Bolt answers 404 for an action no listener handles, and echoes the challenge.
    assert unknown.status_code == 404
    assert challenge.status_code == 200 and "c-123" in challenge.text


# -- listeners read payload values by type ---------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"actions": []},
        {"actions": "x"},
        {"actions": [None]},
        {"actions": [{"value": None}]},
        {"actions": [{"value": ["a" * 32]}]},
        {"actions": [{"value": "not-a-request-id"}]},
    ],
)
def test_request_id_of_refuses_what_is_not_a_request_id(body: dict[str, Any]) -> None:
    with pytest.raises(UserFacingError):
        request_id_of(body)


def test_request_id_of_reads_a_request_id() -> None:
    assert request_id_of({"actions": [{"value": "0" * 32}]}) == "0" * 32


@pytest.mark.parametrize(
    "view",
    [
        {},
        {"state": None},
        {"state": {"values": []}},
        {"state": {"values": {ContainBlock.ACTIONS: "x", ContainBlock.REASON: 3}}},
        json.loads(_submission([None, 1, "x", {"value": None}], reason=["why"]))["view"],
    ],
)
def test_submitted_choice_treats_malformed_values_as_missing(view: dict[str, Any]) -> None:
    actions, reason, errors = submitted_choice(view)

    assert (actions, reason) == ([], "")
    assert set(errors) == {ContainBlock.ACTIONS, ContainBlock.REASON}


def test_submitted_choice_keeps_the_valid_options() -> None:
    view = json.loads(_submission([None, {"value": "ingress_internal"}], reason=" why "))["view"]

    assert submitted_choice(view) == ([ActionKind.INGRESS_INTERNAL], "why", {})


def test_clicked_message_and_user_are_read_by_type() -> None:
    assert clicked_message({"container": {"channel_id": "C1", "message_ts": "1.2"}}) == (
        "C1",
        "1.2",
    )
    assert clicked_message({"container": {"channel_id": "C1", "message_ts": ""}}) is None
    assert clicked_message({"container": {"channel_id": "C1", "message_ts": 1.2}}) is None
    ephemeral = {"channel_id": "C1", "message_ts": "1.2", "is_ephemeral": True}
    assert clicked_message({"container": ephemeral}) is None
    assert clicked_message({"container": "C1"}) is None
    assert (user_of({"user": {"id": "U1"}}), user_of({"user": "U1"}), user_of({})) == ("U1", "", "")
