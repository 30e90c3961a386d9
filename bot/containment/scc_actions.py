"""Write containment back to Security Command Center: mute, resolve, security marks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from google.api_core import exceptions as gexc
from google.cloud import securitycenter_v2 as scc
from google.protobuf import field_mask_pb2

from bot.clients import GoogleClients
from bot.errors import PermissionMissing, UserFacingError

logger = logging.getLogger(__name__)

# Security mark keys the bot owns; written one by one so that other marks stay untouched.
MARK_THREAD = "slack_thread"
MARK_CONTAINMENT = "containment"
NOT_FOUND = "Security Command Center has no such finding any more (or the bot may not see it)."


class SccChange(StrEnum):
    MUTE = "mute"
    RESOLVE = "resolve"
    MARKS = "marks"


def mute(google: GoogleClients, finding: str) -> str:
    """Mute the finding; return its mute state before."""
    before = _current(google, finding)
    request = scc.SetMuteRequest(name=finding, mute=scc.Finding.Mute.MUTED)
    with _refusals("mute findings", "roles/securitycenter.findingsMuteSetter"):
        google.scc.set_mute(request=request)
    return scc.Finding.Mute(before.mute).name if before else ""


def resolve(google: GoogleClients, finding: str) -> str:
    """Mark the finding inactive; return its state before."""
    before = _current(google, finding)
    request = scc.SetFindingStateRequest(name=finding, state=scc.Finding.State.INACTIVE)
    with _refusals("change finding states", "roles/securitycenter.findingsStateSetter"):
        google.scc.set_finding_state(request=request)
    return scc.Finding.State(before.state).name if before else ""


def write_marks(google: GoogleClients, finding: str, marks: dict[str, str]) -> dict[str, str]:
    """Set the given security marks, leaving every other mark as it is; return the old ones."""
    before = _current(google, finding)
    request = scc.UpdateSecurityMarksRequest(
        security_marks=scc.SecurityMarks(name=f"{finding}/securityMarks", marks=marks),
        update_mask=field_mask_pb2.FieldMask(paths=[f"marks.{key}" for key in marks]),
    )
    with _refusals("write security marks", "roles/securitycenter.findingSecurityMarksWriter"):
        google.scc.update_security_marks(request=request)
    old = dict(before.security_marks.marks) if before else {}
    return {key: old[key] for key in marks if key in old}


def _current(google: GoogleClients, finding: str) -> scc.Finding | None:
    # SCC has no GetFinding: list with a name filter under the finding's source.
    source = finding.split("/findings/")[0]
    request = scc.ListFindingsRequest(parent=source, filter=f'name="{finding}"')
    with _refusals(
        "read findings in Security Command Center", "roles/securitycenter.findingsViewer"
    ):
        for result in google.scc.list_findings(request=request):
            return result.finding
    return None


@contextmanager
def _refusals(what: str, role: str) -> Iterator[None]:
    """Turn SCC's NotFound and PermissionDenied into words for the person who clicked."""
    try:
        yield
    except gexc.NotFound as exc:
        logger.warning("SCC has no finding to %s: %s", what, exc.message)
        raise UserFacingError(NOT_FOUND) from None
    except gexc.PermissionDenied as exc:
        logger.warning("SCC refused to let the bot %s: %s", what, exc.message)
        raise PermissionMissing(what, role) from None
