"""App Home: refreshed each time someone opens the bot's Home tab."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_bolt import App
from slack_sdk import WebClient

from blocks.home import HomeData, HomeFinding, HomeRequest, build_home, build_home_denied
from bot.containment.authz import Authorizer
from bot.containment.store import ContainmentRequest, ContainmentStore
from bot.pipeline import message_link
from bot.services import Services
from bot.severity import Severity
from bot.store import StoredFinding

logger = logging.getLogger(__name__)

NEWEST_PER_SEVERITY = 3
RECENT_ACTIONS = 5


class ContainmentFeed(Protocol):
    """Where containment requests are read from (bot.containment.store.ContainmentStore)."""

    def pending_requests(self) -> list[ContainmentRequest]: ...

    def recent_actions(self, limit: int = ...) -> list[ContainmentRequest]: ...


def publish_home(
    services: Services,
    client: WebClient,
    user: str,
    *,
    containment: ContainmentFeed | None,
    can_approve: Callable[[str], bool],
) -> None:
    """Build the Home tab for ``user`` from the stores and publish it."""
    settings = services.settings
    if settings.command_users and user not in settings.command_users:
        client.views_publish(user_id=user, view=build_home_denied(settings.slack_command))
        return

    data = HomeData(
        counts=_counts(services),
        newest=_newest(services),
        pending=_requests(services, containment.pending_requests()) if containment else None,
        recent=(
            _requests(services, containment.recent_actions(RECENT_ACTIONS)) if containment else None
        ),
    )

    view = build_home(
        user,
        data,
        can_approve=can_approve(user),
        command=settings.slack_command,
        now=datetime.now(UTC),
    )
    client.views_publish(user_id=user, view=view)
    logger.debug("home published for %s", user)


def _counts(services: Services) -> dict[Severity, int]:
    counts: dict[Severity, int] = {}
    for name, count in services.store.open_counts_by_severity().items():
        severity = Severity.parse(name)
        counts[severity] = counts.get(severity, 0) + count
    return counts


def _newest(services: Services) -> dict[Severity, list[HomeFinding]]:
    newest: dict[Severity, list[HomeFinding]] = {}
    for severity in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW):
        rows = services.store.newest_open(str(severity), limit=NEWEST_PER_SEVERITY)
        if rows:
            newest[severity] = [_home_finding(services, severity, row) for row in rows]
    return newest


def _home_finding(services: Services, severity: Severity, row: StoredFinding) -> HomeFinding:
    link = ""
    if row.channel and row.message_ts:
        link = message_link(services.slack, row.channel, row.message_ts)
    return HomeFinding(
        severity=severity,
        category=row.category,
        where=row.resource_label or row.resource_name,
        link=link,
        seen=row.last_event_time or row.event_time,
    )


def _requests(services: Services, requests: Sequence[ContainmentRequest]) -> list[HomeRequest]:
    shown = []
    for request in requests:
        what = ", ".join(plan.action.label for plan in request.plans) or "contain"
        ts = request.request_ts or request.thread_ts
        link = message_link(services.slack, request.channel, ts) if ts else ""
        shown.append(
            HomeRequest(
                requester=request.requester,
                what=what,
                resource=request.resource,
                at=request.updated_at if request.decided_by else request.created_at,
                link=link,
                status=str(request.status),
                decided_by=request.decided_by or "",
            )
        )
    return shown


def register(
    app: App,
    services: Services,
    *,
    containment: ContainmentFeed | None = None,
    can_approve: Callable[[str], bool] | None = None,
) -> None:
    feed = containment if containment is not None else ContainmentStore(services.engine)
    approver = can_approve or Authorizer(services.settings, services.slack).is_approver

    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        """Refresh the Home tab for the person who opened it."""
        if event.get("tab", "home") != "home":
            return
        publish_home(services, client, event["user"], containment=feed, can_approve=approver)

    app.event("app_home_opened")(handle_app_home_opened)
