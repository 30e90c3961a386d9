"""Who may propose, approve and undo containment, and who may write back to SCC.

Approvers are the ``APPROVERS`` user ids and the members of the ``APPROVER_GROUP`` user
group, read from Slack and kept for a short while. Identity always comes from the signed
request (``body["user"]["id"]``), never from a button's value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.errors import NotAllowed

logger = logging.getLogger(__name__)

GROUP_TTL = 60.0


class Authorizer:
    """Answer who may do what, with the user group's members cached briefly."""

    def __init__(
        self,
        settings: Settings,
        slack: WebClient,
        *,
        ttl: float = GROUP_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._approvers = frozenset(settings.approvers)
        self._responders = frozenset(settings.responders)
        self._group = settings.approver_group
        self._slack = slack
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: frozenset[str] = frozenset()
        self._fetched_at: float | None = None

    @property
    def configured(self) -> bool:
        """Return whether anybody at all could approve."""
        return bool(self._approvers or self._group)

    def mentions(self) -> list[str]:
        """Return the mrkdwn mentions that notify the approvers."""
        found = [f"<@{user}>" for user in sorted(self._approvers)]
        if self._group:
            found.append(f"<!subteam^{self._group}>")
        return found

    def is_approver(self, user: str) -> bool:
        return user in self._approvers or user in self._group_members()

    def is_responder(self, user: str) -> bool:
        """Return whether ``user`` is on the responder or approver lists."""
        return user in self._responders or self.is_approver(user)

    def check_propose(self, user: str) -> None:
        """Raise NotAllowed unless ``user`` may propose containment."""
        if not self.is_responder(user):
            raise NotAllowed(
                ":no_entry: Only responders (RESPONDERS) and approvers may propose containment."
            )

    def check_scc(self, user: str) -> None:
        """Raise NotAllowed unless ``user`` may change the finding in SCC."""
        if not self.is_responder(user):
            raise NotAllowed(
                ":no_entry: Only responders (RESPONDERS) and approvers may change findings in SCC."
            )

    def check_approve(self, user: str, requester: str) -> None:
        """Raise NotAllowed unless ``user`` may approve a request made by ``requester``."""
        if not self.configured:
            raise NotAllowed(
                ":no_entry: No approvers are configured (APPROVERS or APPROVER_GROUP), "
                "so nobody can approve containment."
            )
        if user == requester:
            raise NotAllowed(":no_entry: A second person must approve: not the one who asked.")
        if not self.is_approver(user):
            raise NotAllowed(":no_entry: Only approvers may approve or reject containment.")

    def check_undo(self, user: str) -> None:
        """Raise NotAllowed unless ``user`` may undo containment."""
        if not self.is_approver(user):
            raise NotAllowed(":no_entry: Only approvers may undo containment.")

    def _group_members(self) -> frozenset[str]:
        if not self._group:
            return frozenset()
        with self._lock:
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < self._ttl:
                return self._members
            try:
                reply = self._slack.usergroups_users_list(usergroup=self._group)
                self._members = frozenset(reply.get("users") or [])
            except SlackApiError as exc:
                # Keep the last known members rather than letting anyone in or locking all out
                # on a transient Slack error; with none known, nobody from the group passes.
                logger.warning(
                    "could not read user group %s: %s", self._group, exc.response.get("error")
                )
            self._fetched_at = now
            return self._members
