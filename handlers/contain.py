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
_SCC_BUTTONS = {
    ContainAction.SCC_MUTE: SccChange.MUTE,
    ContainAction.SCC_RESOLVE: SccChange.RESOLVE,
    ContainAction.SCC_MARKS: SccChange.MARKS,
}


def request_id_of(body: dict[str, Any]) -> str:
    """Return the request id a button carries, or refuse the click."""
    value = str(body["actions"][0].get("value") or "")
    if not _REQUEST_ID.match(value):
        raise UserFacingError("That button is from an older message; use a newer one.")
    return value


def submitted_choice(view: dict[str, Any]) -> tuple[list[ActionKind], str, dict[str, str]]:
    """Read the chosen actions and the reason from the modal; errors keyed by block id."""
    values = view["state"]["values"]
    chosen = (values.get(ContainBlock.ACTIONS) or {}).get(ContainAction.CHOOSE) or {}
    actions = []
    for option in chosen.get("selected_options") or []:
        try:
            actions.append(ActionKind(option.get("value")))
        except ValueError:
            continue
    reason = ((values.get(ContainBlock.REASON) or {}).get(ContainAction.REASON) or {}).get(
        "value"
    ) or ""
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not actions:
        errors[ContainBlock.ACTIONS] = "Choose at least one action."
    if not reason:
        errors[ContainBlock.REASON] = "Say why: the approver reads this."
    elif len(reason) > MAX_REASON:
        errors[ContainBlock.REASON] = f"Keep it under {MAX_REASON} characters."
    return actions, reason, errors


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
            ref = FindingRef.decode(body["actions"][0].get("value"))
            flow.open_modal(client, body["user"]["id"], ref.finding, body["trigger_id"])

    @app.view(ContainCallback.MODAL)
    def handle_contain_submission(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Validate the modal, then post the approval request in the finding's thread."""
        view = body["view"]
        actions, reason, errors = submitted_choice(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

        with refusals_shown(body, client):
            ref = FindingRef.decode(view.get("private_metadata"))
            flow.submit(client, body["user"]["id"], ref.finding, actions, reason)

    @app.action(ContainAction.APPROVE)
    def handle_contain_approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Approve a request once and carry it out."""
        ack()

        with refusals_shown(body, client):
            flow.approve(client, body["user"]["id"], request_id_of(body))

    @app.action(ContainAction.REJECT)
    def handle_contain_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Reject a pending request."""
        ack()

        with refusals_shown(body, client):
            flow.reject(client, body["user"]["id"], request_id_of(body))

    @app.action(ContainAction.UNDO)
    def handle_contain_undo(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Restore what an executed request replaced."""
        ack()

        with refusals_shown(body, client):
            flow.undo(client, body["user"]["id"], request_id_of(body))

    def handle_scc_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Mute, resolve or mark the finding in SCC."""
        ack()

        change = _SCC_BUTTONS[ContainAction(body["actions"][0]["action_id"])]
        with refusals_shown(body, client):
            ref = FindingRef.decode(body["actions"][0].get("value"))
            flow.scc_change(client, body["user"]["id"], ref.finding, change)

    for action_id in _SCC_BUTTONS:
        app.action(action_id)(handle_scc_click)
