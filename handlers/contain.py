"""Containment listeners: the modal, approval and rejection, undo, and SCC write-back."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from blocks.contain import MAX_REASON
from blocks.ids import ContainAction, ContainBlock, ContainCallback
from bot.containment.flow import ContainmentFlow
from bot.containment.plan import ActionKind
from bot.containment.scc_actions import SccChange
from bot.errors import UserFacingError
from bot.housekeeping import Task
from bot.refs import FindingRef
from bot.services import Services
from handlers.errors import refusals_shown

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
_ACTION_KINDS = frozenset(kind.value for kind in ActionKind)
_EMOJI = re.compile(r"^:[a-z0-9_+\-]+:\s*")
_SCC_BUTTONS = {
    ContainAction.SCC_MUTE: SccChange.MUTE,
    ContainAction.SCC_RESOLVE: SccChange.RESOLVE,
    ContainAction.SCC_MARKS: SccChange.MARKS,
}


def request_id_of(body: dict[str, Any]) -> str:
    """Return the request id a button carries, or refuse the click."""
    value = _first_action(body).get("value")
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise UserFacingError("That button is from an older message; use a newer one.")
    return value


def submitted_choice(view: dict[str, Any]) -> tuple[list[ActionKind], str, dict[str, str]]:
    """Read the chosen actions and the reason from the modal; errors keyed by block id."""
    values = _object(_object(view.get("state")).get("values"))
    chosen = _object(_object(values.get(ContainBlock.ACTIONS)).get(ContainAction.CHOOSE))
    options = chosen.get("selected_options")
    actions = []
    for option in options if isinstance(options, list) else []:
        value = _object(option).get("value")
        if isinstance(value, str) and value in _ACTION_KINDS:
            actions.append(ActionKind(value))
    reason = _object(_object(values.get(ContainBlock.REASON)).get(ContainAction.REASON)).get(
        "value"
    )
    reason = reason.strip() if isinstance(reason, str) else ""
    errors: dict[str, str] = {}
    if not actions:
        errors[ContainBlock.ACTIONS] = "Choose at least one action."
    if not reason:
        errors[ContainBlock.REASON] = "Say why: the approver reads this."
    elif len(reason) > MAX_REASON:
        errors[ContainBlock.REASON] = f"Keep it under {MAX_REASON} characters."
    return actions, reason, errors


def clicked_message(body: dict[str, Any]) -> tuple[str, str] | None:
    """Return the channel and ts of the (non-ephemeral) message whose button was clicked."""
    container = _object(body.get("container"))
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if container.get("is_ephemeral") or not isinstance(channel, str) or not isinstance(ts, str):
        return None
    return (channel, ts) if channel and ts else None


def user_of(body: dict[str, Any]) -> str:
    """Return the id of the person who acted, from the signed request ("" if absent)."""
    user = _object(body.get("user")).get("id")
    return user if isinstance(user, str) else ""


def _first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise UserFacingError("That click carried no button; try again.")
    return _object(actions[0])


def _object(value: Any) -> dict[str, Any]:
    # Payload values are checked before use: a signed request may still be malformed.
    return value if isinstance(value, dict) else {}


def _field_error(message: str) -> str:
    # Modal errors are plain text: drop a leading emoji code.
    return _EMOJI.sub("", message, count=1)


def register(app: App, services: Services) -> None:
    flow = ContainmentFlow(services)
    services.action_builders.append(flow.finding_buttons)
    services.notice_builders.append(flow.finding_notices)
    services.periodic.append(
        Task("expire containment requests", 30.0, lambda: flow.expire_due(services.slack))
    )

    @app.action(ContainAction.OPEN)
    def handle_contain_open(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Open the containment modal with plans computed from the live resource."""
        ack()

        with refusals_shown(body, client):
            ref = FindingRef.decode(_first_action(body).get("value"))
            flow.open_modal(client, user_of(body), ref.finding, str(body.get("trigger_id") or ""))

    @app.view(ContainCallback.MODAL)
    def handle_contain_submission(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Validate the modal, then post the approval request in the finding's thread."""
        user, view = user_of(body), _object(body.get("view"))
        # A submission's payload names no channel: refusals go back into the modal itself.
        try:
            ref = FindingRef.decode(view.get("private_metadata"))
            flow.check_submission(user, ref.finding)
        except UserFacingError as exc:
            ack(response_action="errors", errors={ContainBlock.ACTIONS: _field_error(exc.message)})
            return
        actions, reason, errors = submitted_choice(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

        with refusals_shown(body, client):
            flow.submit(client, user, ref.finding, actions, reason)

    @app.action(ContainAction.APPROVE)
    def handle_contain_approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Approve a request once and carry it out."""
        ack()

        with refusals_shown(body, client):
            flow.approve(client, user_of(body), request_id_of(body))

    @app.action(ContainAction.REJECT)
    def handle_contain_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Reject a pending request."""
        ack()

        with refusals_shown(body, client):
            flow.reject(client, user_of(body), request_id_of(body))

    @app.action(ContainAction.UNDO)
    def handle_contain_undo(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Restore what an executed request replaced."""
        ack()

        with refusals_shown(body, client):
            flow.undo(client, user_of(body), request_id_of(body))

    def handle_scc_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Mute, resolve or mark the finding in SCC."""
        ack()

        with refusals_shown(body, client):
            action = _first_action(body)
            change = _SCC_BUTTONS[ContainAction(str(action.get("action_id")))]
            ref = FindingRef.decode(action.get("value"))
            flow.scc_change(
                client, user_of(body), ref.finding, change, clicked=clicked_message(body)
            )

    for action_id in _SCC_BUTTONS:
        app.action(action_id)(handle_scc_click)
