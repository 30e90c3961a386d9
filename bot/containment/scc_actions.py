"""Write containment back to Security Command Center: mute, resolve, security marks."""

from __future__ import annotations

import logging
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


class SccChange(StrEnum):
    MUTE = "mute"
    RESOLVE = "resolve"
    MARKS = "marks"


def mute(google: GoogleClients, finding: str) -> str:
    """Mute the finding; return its mute state before."""
    try:
        before = _current(google, finding)
        google.scc.set_mute(request=scc.SetMuteRequest(name=finding, mute=scc.Finding.Mute.MUTED))
    except gexc.PermissionDenied:
        raise PermissionMissing(
            "mute findings", "roles/securitycenter.findingsMuteSetter"
        ) from None
    return scc.Finding.Mute(before.mute).name if before else ""


def resolve(google: GoogleClients, finding: str) -> str:
    """Mark the finding inactive; return its state before."""
    try:
        before = _current(google, finding)
        google.scc.set_finding_state(
            request=scc.SetFindingStateRequest(name=finding, state=scc.Finding.State.INACTIVE)
        )
    except gexc.PermissionDenied:
        raise PermissionMissing(
            "change finding states", "roles/securitycenter.findingsStateSetter"
        ) from None
    return scc.Finding.State(before.state).name if before else ""


def write_marks(google: GoogleClients, finding: str, marks: dict[str, str]) -> dict[str, str]:
    """Set the given security marks, leaving every other mark as it is; return the old ones."""
    try:
        before = _current(google, finding)
        google.scc.update_security_marks(
            request=scc.UpdateSecurityMarksRequest(
                security_marks=scc.SecurityMarks(name=f"{finding}/securityMarks", marks=marks),
                update_mask=field_mask_pb2.FieldMask(paths=[f"marks.{key}" for key in marks]),
            )
        )
    except gexc.PermissionDenied:
        raise PermissionMissing(
            "write security marks", "roles/securitycenter.findingSecurityMarksWriter"
        ) from None
    old = dict(before.security_marks.marks) if before else {}
    return {key: old[key] for key in marks if key in old}


def _current(google: GoogleClients, finding: str) -> scc.Finding | None:
    # SCC has no GetFinding: list with a name filter under the finding's source.
    source = finding.split("/findings/")[0]
    try:
        results = google.scc.list_findings(
            request=scc.ListFindingsRequest(parent=source, filter=f'name="{finding}"')
        )
        for result in results:
            return result.finding
    except gexc.NotFound:
        raise UserFacingError("SCC no longer has this finding.") from None
    return None
