"""Containment surfaces: the finding's buttons, the modal, the approval request and outcomes.

Plans and errors carry names and messages from Cloud Run; they go through blocks.text
before reaching mrkdwn. Buttons carry only a finding reference or a request id.
"""

from __future__ import annotations

import json
from typing import Any

from blocks.finding import slack_date
from blocks.ids import ContainAction, ContainBlock, ContainCallback
from blocks.slack import Block, SlackMessage, button, context, header, section
from blocks.text import fit, plain, text
from bot.containment.execute import ActionResult
from bot.containment.plan import Plan, Planning
from bot.containment.store import ContainmentRequest, Status

MAX_REASON = 500
_ICONS = {
    Status.PENDING: ":hourglass_flowing_sand:",
    Status.APPROVED: ":gear:",
    Status.EXECUTING: ":gear:",
    Status.DONE: ":white_check_mark:",
    Status.FAILED: ":x:",
    Status.REJECTED: ":no_entry_sign:",
    Status.EXPIRED: ":alarm_clock:",
    Status.RECORDED: ":memo:",
    Status.REPLANNED: ":recycle:",
    Status.UNDOING: ":gear:",
    Status.UNDONE: ":leftwards_arrow_with_hook:",
    Status.UNDO_FAILED: ":x:",
}


def build_finding_buttons(finding_value: str, *, cloud_run: bool) -> tuple[dict[str, Any], ...]:
    """Return the containment and SCC write-back buttons for a finding message."""
    elements = []
    if cloud_run:
        elements.append(button(ContainAction.OPEN, "Contain…", value=finding_value))
    elements.extend(
        [
            button(ContainAction.SCC_MUTE, "Mute in SCC", value=finding_value),
            button(ContainAction.SCC_RESOLVE, "Mark resolved", value=finding_value),
            button(ContainAction.SCC_MARKS, "Record in SCC marks", value=finding_value),
        ]
    )
    return tuple(elements)


def build_contain_modal(planning: Planning, finding_value: str) -> dict[str, Any]:
    """Return the modal listing each applicable action with its plan and a reason field."""
    target = planning.target
    blocks: list[Block] = [
        section(
            None,
            f"*{text(target.label, 200)}* in `{text(target.project, 60)}` "
            f"({text(target.location, 40)}). Choose what to do; a second person approves "
            "before anything changes.",
        )
    ]
    for plan in planning.plans:
        blocks.append(section(f"{ContainBlock.PLAN}.{plan.action}", plan_text(plan)))
    if planning.skipped:
        blocks.append(context(None, [text(reason, 300) for reason in planning.skipped]))
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ContainCallback.MODAL,
        "title": {"type": "plain_text", "text": "Contain"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": finding_value,
        "blocks": blocks,
    }
    if not planning.plans:
        blocks.append(section(None, "Nothing applies to this resource right now."))
        return view
    options = [
        {
            "text": {"type": "plain_text", "text": plan.action.label[:75]},
            "value": str(plan.action),
        }
        for plan in planning.plans
    ]
    blocks.append(
        {
            "type": "input",
            "block_id": ContainBlock.ACTIONS,
            "label": {"type": "plain_text", "text": "Actions"},
            "element": {
                "type": "checkboxes",
                "action_id": ContainAction.CHOOSE,
                "options": options,
            },
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": ContainBlock.REASON,
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {
                "type": "plain_text_input",
                "action_id": ContainAction.REASON,
                "multiline": True,
                "max_length": MAX_REASON,
            },
        }
    )
    view["submit"] = {"type": "plain_text", "text": "Request approval"}
    return view


def plan_text(plan: Plan) -> str:
    """Describe one plan: the action, what changes from what to what, and any caveat."""
    # Plans hold names from Cloud Run (roles, revisions, the service URL): escaped, not
    # defanged, so that role names stay readable.
    lines = [f"*{plan.action.label}*", fit(plan.change, 1200)[0]]
    if plan.note:
        lines.append(f":warning: _{text(plan.note, 400)}_")
    return "\n".join(lines)


def build_request_message(
    request: ContainmentRequest, *, label: str, mentions: list[str]
) -> SlackMessage:
    """Return the approval request in any state: buttons while pending, Undo once done."""
    plans = "\n\n".join(plan_text(plan) for plan in request.plans)
    blocks: list[Block] = [
        header(None, plain(f"Containment request: {label}", 150)),
        section(
            ContainBlock.REQUEST,
            f"<@{request.requester}> asks to contain *{text(label, 200)}*.\n"
            f"*Reason:* {text(request.reason, MAX_REASON + 100)}",
        ),
        section(ContainBlock.PLAN, plans[:2900]),
    ]
    status = status_line(request)
    if request.status is Status.PENDING:
        who = (
            "Approvers: " + " ".join(mentions)
            if mentions
            else ":warning: No approvers are configured (APPROVERS or APPROVER_GROUP): "
            "nobody can approve this request."
        )
        blocks.append(context(ContainBlock.DECISION, [who, status]))
        blocks.append(
            {
                "type": "actions",
                "block_id": ContainBlock.OUTCOME,
                "elements": [
                    button(ContainAction.APPROVE, "Approve", value=request.id, style="primary"),
                    button(ContainAction.REJECT, "Reject", value=request.id, style="danger"),
                ],
            }
        )
    else:
        blocks.append(section(ContainBlock.DECISION, status))
        if request.results:
            blocks.append(context(None, [results_text(request.results)[:2900]]))
        if can_undo(request):
            blocks.append(
                {
                    "type": "actions",
                    "block_id": ContainBlock.OUTCOME,
                    "elements": [button(ContainAction.UNDO, "Undo", value=request.id)],
                }
            )
    return SlackMessage(text=f"Containment request for {label}: {request.status}", blocks=blocks)


def can_undo(request: ContainmentRequest) -> bool:
    return request.status in (Status.DONE, Status.FAILED) and any(
        r.ok and r.action.undoable for r in request.results
    )


def status_line(request: ContainmentRequest) -> str:
    """Say where the request stands: who decided, when, and how it ended."""
    icon = _ICONS[request.status]
    decided = (
        f" by <@{request.decided_by}> {slack_date(request.decided_at)}"
        if request.decided_by and request.decided_at
        else ""
    )
    error = f": {text(request.error, 500)}" if request.error else ""
    lines = {
        Status.PENDING: f"Waiting for approval until {slack_date(request.expires_at)}.",
        Status.APPROVED: f"Approved{decided}; starting.",
        Status.EXECUTING: f"Approved{decided}; executing.",
        Status.DONE: f"Done. Approved{decided}.",
        Status.FAILED: f"Failed{error}. Approved{decided}.",
        Status.REJECTED: f"Rejected{decided}.",
        Status.EXPIRED: f"Expired {slack_date(request.expires_at)} without a decision.",
        Status.RECORDED: f"Approved{decided}. Plan-only mode: nothing was changed.",
        Status.REPLANNED: "The resource changed after this plan; nothing was changed. "
        "A new request with a fresh plan follows.",
        Status.UNDOING: "Undoing.",
        Status.UNDONE: f"Undone by <@{request.undone_by}>"
        + (f" {slack_date(request.undone_at)}" if request.undone_at else "")
        + ".",
        Status.UNDO_FAILED: f"Undo by <@{request.undone_by}> failed{error}.",
    }
    return f"{icon} {lines[request.status]}"


def results_text(results: list[ActionResult]) -> str:
    """List each action's result, with the reason when it failed."""
    lines = []
    for result in results:
        if result.ok:
            lines.append(f":white_check_mark: {result.action.label}")
        else:
            lines.append(f":x: {result.action.label}: {text(result.error, 400)}")
    return "\n".join(lines)


def build_thread_reply(request: ContainmentRequest, *, label: str) -> SlackMessage:
    """Return the short thread reply announcing a request's outcome."""
    body = f"*Containment of {text(label, 200)}:* {status_line(request)}"
    blocks: list[Block] = [section(ContainBlock.OUTCOME, body)]
    if request.results:
        blocks.append(context(None, [results_text(request.results)[:2900]]))
    return SlackMessage(text=f"Containment of {label}: {request.status}", blocks=blocks)


def containment_notice(request: ContainmentRequest) -> str:
    """Return the one line a finding message shows about its latest containment."""
    return f"*Containment:* {status_line(request)}"


def build_scc_reply(user: str, change: str) -> SlackMessage:
    """Return the thread note saying who changed the finding in SCC."""
    return SlackMessage(
        text=f"SCC: {change}",
        blocks=[
            section(None, f":shield: <@{user}> {text(change, 500)} in Security Command Center.")
        ],
    )


def request_summary(request: ContainmentRequest) -> str:
    """Return the security-mark value that records what containment was taken."""
    actions = ",".join(r.action.value for r in request.results if r.ok)
    return json.dumps({"request": request.id, "status": str(request.status), "actions": actions})
