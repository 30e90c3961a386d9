"""The containment workflow behind the Slack listeners: request, decide, execute, show, undo.

Every decision is a conditional state change in the store first; only the caller that won
it talks to Cloud Run. Whoever lost is told, through a UserFacingError, who acted first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.contain import (
    build_contain_modal,
    build_finding_buttons,
    build_request_message,
    build_scc_reply,
    build_thread_reply,
    containment_notice,
)
from blocks.finding import slack_date
from bot.config import ContainmentMode
from bot.containment import scc_actions
from bot.containment.audit import record_audit
from bot.containment.authz import Authorizer
from bot.containment.execute import ActionResult, Stale, execute_plans
from bot.containment.plan import ActionKind, plan_containment, target_of
from bot.containment.store import ContainmentRequest, ContainmentStore, Status, utcnow
from bot.containment.undo import undo_results, undoable
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.metrics import METRICS
from bot.refs import finding_ref
from bot.resources import parse_cloud_run_target
from bot.services import Services
from bot.store import StoredFinding

logger = logging.getLogger(__name__)


class ContainmentFlow:
    """Carry containment requests from the modal to their outcome."""

    def __init__(self, services: Services, authorizer: Authorizer | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.google = services.google
        self.store = ContainmentStore(services.engine)
        self.authz = authorizer or Authorizer(services.settings, services.slack)

    @property
    def executing(self) -> bool:
        return self.settings.containment_mode is ContainmentMode.EXECUTE

    def finding_buttons(self, record: FindingRecord) -> tuple[dict[str, Any], ...]:
        """Return the buttons this surface adds to a finding message."""
        cloud_run = record.cloud_run is not None
        return build_finding_buttons(finding_ref(record.key), cloud_run=cloud_run)

    # -- proposing ---------------------------------------------------------------------------

    def open_modal(self, client: WebClient, user: str, finding_key: str, trigger_id: str) -> None:
        """Plan from the live resource and open the modal listing what applies."""
        self.authz.check_propose(user)
        record = self._record(finding_key)
        planning = plan_containment(self.google, record)
        client.views_open(
            trigger_id=trigger_id, view=build_contain_modal(planning, finding_ref(finding_key))
        )

    def check_submission(self, user: str, finding_key: str) -> None:
        """Refuse a submission from someone who may not propose, or for an unknown finding."""
        self.authz.check_propose(user)
        if self.services.store.get(finding_key) is None:
            raise UserFacingError("The bot no longer has this finding.")

    def submit(
        self, client: WebClient, user: str, finding_key: str, actions: list[ActionKind], reason: str
    ) -> ContainmentRequest:
        """Re-plan the chosen actions, record the request and post it in the thread."""
        self.authz.check_propose(user)
        record = self._record(finding_key)
        stored = self.services.store.get(finding_key)
        if stored is None or not stored.channel or not stored.message_ts:
            raise UserFacingError("This finding has no message to attach the request to.")
        target = target_of(record)
        plans = plan_containment(self.google, record, target).only(actions)
        if not plans:
            raise UserFacingError("None of the chosen actions applies any more.")
        request = self.store.create(
            finding_key=finding_key,
            resource=target.path,
            channel=stored.channel,
            thread_ts=stored.message_ts,
            requester=user,
            reason=reason,
            mode=str(self.settings.containment_mode),
            plans=plans,
            expires_at=utcnow() + timedelta(minutes=self.settings.containment_expiry_minutes),
        )
        record_audit(
            self.services.engine,
            actor=user,
            event="request",
            request_id=request.id,
            finding_key=finding_key,
            resource=target.path,
            before={p.action: p.before for p in plans},
            after={p.action: p.after for p in plans},
            result=f"pending; reason: {reason}",
        )
        message = build_request_message(request, label=target.label, mentions=self.authz.mentions())
        posted = client.chat_postMessage(
            channel=request.channel,
            thread_ts=request.thread_ts,
            text=message.text,
            blocks=message.blocks,
        )
        self.store.set_request_ts(request.id, str(posted["ts"]))
        return self._get(request.id)

    # -- deciding ----------------------------------------------------------------------------

    def approve(self, client: WebClient, user: str, request_id: str) -> ContainmentRequest:
        """Approve a request once, then execute it (or record it, in plan-only mode)."""
        request = self._pending(client, request_id)
        self.authz.check_approve(user, request.requester)
        if not self.store.approve(request_id, user):
            raise self._lost(client, request_id)
        request = self._get(request_id)
        self._audit(
            request,
            actor=user,
            event="approve",
            result="approved",
        )
        if not (self.executing and request.mode == ContainmentMode.EXECUTE):
            self.store.record_plan_only(request_id)
            request = self._get(request_id)
            self._audit(
                request,
                actor=user,
                event="plan-only",
                result="recorded without executing",
            )
            self.show(client, request)
            return request
        if not self.store.start(request_id):
            raise self._lost(client, request_id)
        self.show(client, self._get(request_id), reply=False)
        return self._execute(client, self._get(request_id), user)

    def reject(self, client: WebClient, user: str, request_id: str) -> ContainmentRequest:
        """Reject a pending request; approvers only."""
        request = self._pending(client, request_id)
        self.authz.check_approve(user, request.requester)
        if not self.store.reject(request_id, user):
            raise self._lost(client, request_id)
        request = self._get(request_id)
        self._audit(
            request,
            actor=user,
            event="reject",
            result="rejected",
        )
        self.show(client, request)
        return request

    def undo(self, client: WebClient, user: str, request_id: str) -> ContainmentRequest:
        """Restore what an executed request replaced; approvers only, once."""
        self.authz.check_undo(user)
        request = self._get(request_id)
        if not undoable(request.results):
            raise UserFacingError("Nothing this request changed can be undone.")
        if not self.store.begin_undo(request_id, user):
            raise self._lost(client, request_id)
        restored = undo_results(
            self.google, request.results, timeout=self.settings.containment_operation_timeout
        )
        self.store.finish_undo(request_id, restored)
        request = self._get(request_id)
        self._audit(
            request,
            actor=user,
            event="undo",
            before={r.action: r.replaced for r in restored if r.ok},
            after={r.action: r.applied for r in restored if r.ok},
            result=f"{request.status}" + (f": {request.error}" if request.error else ""),
        )
        for result in restored:
            METRICS.actions_executed.labels(
                action=f"undo_{result.action}", result="ok" if result.ok else "error"
            ).inc()
        self.show(client, request)
        return request

    def expire_due(self, client: WebClient) -> list[ContainmentRequest]:
        """Expire overdue requests and show it where they were posted."""
        expired = self.store.expire_due()
        for request in expired:
            self._audit_expiry(request)
            self.show(client, request)
        return expired

    # -- SCC write-back ----------------------------------------------------------------------

    def scc_change(
        self,
        client: WebClient,
        user: str,
        finding_key: str,
        change: scc_actions.SccChange,
        *,
        clicked: tuple[str, str] | None = None,
    ) -> str:
        """Mute, resolve or mark the finding in SCC; responders and approvers only.

        Args:
            clicked: the channel and ts of the message whose button was clicked, if known.
        """
        self.authz.check_scc(user)
        stored = self._writable(finding_key, clicked)
        if change is scc_actions.SccChange.MUTE:
            before: Any = scc_actions.mute(self.google, finding_key)
            after: Any = "MUTED"
            said = "muted the finding"
        elif change is scc_actions.SccChange.RESOLVE:
            before = scc_actions.resolve(self.google, finding_key)
            after = "INACTIVE"
            said = "marked the finding inactive (resolved)"
        else:
            after = self._marks(finding_key, stored)
            before = scc_actions.write_marks(self.google, finding_key, after)
            said = "recorded the Slack thread and containment in security marks"
        record_audit(
            self.services.engine,
            actor=user,
            event=f"scc_{change}",
            finding_key=finding_key,
            resource=finding_key,
            before=before,
            after=after,
            result="ok",
        )
        METRICS.actions_executed.labels(action=f"scc_{change}", result="ok").inc()
        if stored.channel and stored.message_ts:
            reply = build_scc_reply(user, said)
            client.chat_postMessage(
                channel=stored.channel,
                thread_ts=stored.message_ts,
                text=reply.text,
                blocks=reply.blocks,
            )
        return said

    def _writable(self, finding_key: str, clicked: tuple[str, str] | None) -> StoredFinding:
        # Only findings that reached the bot through its subscription are changed in SCC: a
        # name from a button value alone could point anywhere the service account reaches.
        stored = self.services.store.get(finding_key)
        if stored is None:
            raise UserFacingError(
                "The bot has not received this finding, so it will not change it in SCC."
            )
        if clicked is not None and clicked != (stored.channel, stored.message_ts):
            owner = self.services.store.key_at(*clicked)
            if owner is not None and owner != finding_key:
                raise UserFacingError(
                    "That button names another finding than the message it is on; use the "
                    "buttons on the finding's own message."
                )
        return stored

    def _marks(self, finding_key: str, stored: StoredFinding) -> dict[str, str]:
        channel = stored.channel
        thread = f"{channel}/{stored.message_ts}" if channel and stored.message_ts else "none"
        latest = self.store.latest_for(finding_key)
        if latest is None:
            containment = "none"
        else:
            done = ",".join(r.action.value for r in latest.results if r.ok) or "none"
            containment = f"{latest.status}:{done}:{latest.id[:12]}"
        return {scc_actions.MARK_THREAD: thread, scc_actions.MARK_CONTAINMENT: containment}

    # -- showing -----------------------------------------------------------------------------

    def show(self, client: WebClient, request: ContainmentRequest, *, reply: bool = True) -> None:
        """Update the approval request, reply in the thread and mark the finding message."""
        label = _label(request.resource)
        message = build_request_message(request, label=label, mentions=self.authz.mentions())
        if request.request_ts:
            client.chat_update(
                channel=request.channel,
                ts=request.request_ts,
                text=message.text,
                blocks=message.blocks,
            )
        if reply and request.status is not Status.PENDING:
            note = build_thread_reply(request, label=label)
            client.chat_postMessage(
                channel=request.channel,
                thread_ts=request.thread_ts,
                text=note.text,
                blocks=note.blocks,
            )
        self._mark_finding_message(client, request)

    def _mark_finding_message(self, client: WebClient, request: ContainmentRequest) -> None:
        try:
            self.services.pipeline.refresh(request.finding_key)
        except SlackApiError as exc:
            # The thread already says what happened; the status line is a convenience.
            logger.warning(
                "could not mark finding message %s: %s",
                request.thread_ts,
                exc.response.get("error"),
            )

    def finding_notices(self, record: FindingRecord) -> tuple[str, ...]:
        """Return the containment status line for a finding message, if any."""
        request = self.store.latest_for(record.key)
        return (containment_notice(request),) if request else ()

    # -- internals ---------------------------------------------------------------------------

    def _audit(
        self, request: ContainmentRequest, *, actor: str, event: str, **details: Any
    ) -> None:
        """Record one audit event about a request."""
        record_audit(
            self.services.engine,
            actor=actor,
            event=event,
            request_id=request.id,
            finding_key=request.finding_key,
            resource=request.resource,
            **details,
        )

    def _execute(
        self, client: WebClient, request: ContainmentRequest, user: str
    ) -> ContainmentRequest:
        try:
            results = execute_plans(
                self.google, request.plans, timeout=self.settings.containment_operation_timeout
            )
        except Stale:
            return self._replan(client, request, user)
        except UserFacingError as exc:
            self.store.finish(request.id, [], error=exc.message)
            results = []
        except Exception:
            self.store.finish(request.id, [], error="unexpected error; see the bot's logs")
            self.show(client, self._get(request.id))
            raise
        else:
            self.store.finish(request.id, results)
        request = self._get(request.id)
        self._audit_execution(request, results)
        self.show(client, request)
        return request

    def _replan(
        self, client: WebClient, request: ContainmentRequest, user: str
    ) -> ContainmentRequest:
        record = self._record(request.finding_key)
        actions = [plan.action for plan in request.plans]
        plans = plan_containment(self.google, record).only(actions)
        fresh = None
        if plans:
            fresh = self.store.create(
                finding_key=request.finding_key,
                resource=request.resource,
                channel=request.channel,
                thread_ts=request.thread_ts,
                requester=request.requester,
                reason=request.reason,
                mode=request.mode,
                plans=plans,
                expires_at=utcnow() + timedelta(minutes=self.settings.containment_expiry_minutes),
            )
        self.store.supersede(request.id, fresh.id if fresh else "")
        old = self._get(request.id)
        self._audit(
            request,
            actor=user,
            event="replan",
            before={p.action: p.before for p in request.plans},
            after={p.action: p.before for p in plans},
            result=f"resource changed; new request {fresh.id if fresh else 'none'}",
        )
        self.show(client, old)
        if fresh is None:
            return old
        message = build_request_message(
            fresh, label=_label(fresh.resource), mentions=self.authz.mentions()
        )
        posted = client.chat_postMessage(
            channel=fresh.channel,
            thread_ts=fresh.thread_ts,
            text=message.text,
            blocks=message.blocks,
        )
        self.store.set_request_ts(fresh.id, str(posted["ts"]))
        return old

    def _audit_execution(self, request: ContainmentRequest, results: list[ActionResult]) -> None:
        for result in results:
            METRICS.actions_executed.labels(
                action=str(result.action), result="ok" if result.ok else "error"
            ).inc()
        self._audit(
            request,
            actor=request.decided_by or "",
            event="execute",
            before={r.action: r.replaced for r in results if r.ok},
            after={r.action: r.applied for r in results if r.ok},
            result=f"{request.status}" + (f": {request.error}" if request.error else ""),
        )

    def _audit_expiry(self, request: ContainmentRequest) -> None:
        self._audit(
            request,
            actor="bot",
            event="expire",
            result="expired without a decision",
        )

    def _pending(self, client: WebClient, request_id: str) -> ContainmentRequest:
        request = self._get(request_id)
        if request.expired() and self.store.expire(request_id):
            request = self._get(request_id)
            self._audit_expiry(request)
            self.show(client, request)
        if request.status is not Status.PENDING:
            raise self._lost(client, request_id)
        return request

    def _lost(self, client: WebClient, request_id: str) -> UserFacingError:
        request = self._get(request_id)
        by = request.decided_by or request.undone_by
        when = request.decided_at or request.undone_at
        who = f" by <@{by}>" if by else ""
        at = f" {slack_date(when)}" if when else ""
        if request.status is Status.EXPIRED:
            return UserFacingError(
                f":alarm_clock: This request expired {slack_date(request.expires_at)}."
            )
        if request.status in (Status.UNDOING, Status.UNDONE, Status.UNDO_FAILED):
            return UserFacingError(f"This containment was already undone{who}{at}.")
        return UserFacingError(f"This request was already handled{who}{at}: {request.status}.")

    def _record(self, finding_key: str) -> FindingRecord:
        record = self.services.record(finding_key)
        if record is None:
            raise UserFacingError("The bot no longer has this finding.")
        return record

    def _get(self, request_id: str) -> ContainmentRequest:
        request = self.store.get(request_id)
        if request is None:
            raise UserFacingError("That containment request does not exist.")
        return request


def _label(resource: str) -> str:
    target = parse_cloud_run_target(resource)
    return target.label if target else resource
