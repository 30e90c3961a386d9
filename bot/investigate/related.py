"""Related findings: the same resource around the event time, and the same script elsewhere."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.api_core import exceptions as gexc
from google.cloud import securitycenter_v2 as scc

from bot import links
from bot.clients import GoogleClients
from bot.config import Settings
from bot.errors import UserFacingError
from bot.finding import FindingRecord, record_from_result
from bot.investigate.errors import Api, google_errors
from bot.investigate.query import FINDING_NAME, SHA256, quoted, rfc3339
from bot.resources import parse_cloud_run_target
from bot.store import FindingStore, utcnow

logger = logging.getLogger(__name__)

# Findings shown per answer; the count says how many more SCC holds.
MAX_SHOWN = 10
SAME_SCRIPT_PAGE = 50
CALL_TIMEOUT = 20.0

_PARENT = re.compile(
    r"^(?:organizations|folders|projects)/[A-Za-z0-9\-]+"
    r"(?:/sources/(?:-|\d+)(?:/locations/[a-z0-9\-]+)?)?$"
)
_LOCATION = re.compile(r"/locations/([a-z0-9\-]+)/findings/")
# Any full resource name without quotes, spaces or backslashes.
_RESOURCE = re.compile(r"^//[a-z0-9.\-]+/[A-Za-z0-9._~:@/\-]+$")


@dataclass(frozen=True)
class RelatedFinding:
    """One finding SCC returned."""

    name: str
    category: str
    severity: str
    state: str
    event_time: datetime | None
    resource_label: str
    console_url: str


@dataclass(frozen=True)
class SameScript:
    """Another resource where the same script hash was seen."""

    resource_label: str
    resource_name: str
    event_time: datetime | None
    slack_link: str  # the bot's own message about it, when it posted one
    console_url: str
    source: str  # "bot" or "scc"


@dataclass(frozen=True)
class RelatedFindings:
    """The related-findings answer."""

    parent: str
    filter: str
    window: timedelta | None
    findings: tuple[RelatedFinding, ...]
    total: int
    sha256: str = ""
    same_script: tuple[SameScript, ...] = ()
    same_script_note: str = ""


def findings_parent(configured: str | None, record: FindingRecord) -> str:
    """Return the ``list_findings`` parent: SCC_PARENT, else the finding's organization."""
    match = _LOCATION.search(record.key)
    location = match.group(1) if match else "global"
    if configured:
        if not _PARENT.match(configured):
            raise UserFacingError(
                ":warning: SCC_PARENT is not an organization, folder or project name."
            )
        if "/sources/" in configured:
            return configured
        return f"{configured}/sources/-/locations/{location}"
    if record.organization_id:
        return f"organizations/{record.organization_id}/sources/-/locations/{location}"
    target = record.cloud_run
    if target is not None:
        return f"projects/{target.project}/sources/-/locations/{location}"
    raise UserFacingError(":warning: No SCC parent to search: set SCC_PARENT.")


def related_filter(record: FindingRecord, window: timedelta) -> str:
    """Return the filter for findings on the same resource around the event time."""
    target = record.cloud_run
    resource = f"//run.googleapis.com/{target.path}" if target else record.resource_name
    if not _RESOURCE.match(resource):
        raise UserFacingError(":warning: The finding names no resource that can be searched.")
    # The service and its revisions, or the job and its executions.
    parts = [f"(resource_name={quoted(resource, _RESOURCE)} OR resource_name:"]
    parts[0] += f"{quoted(resource + '/', _RESOURCE)})"
    if record.event_time is not None:
        parts.append(f'event_time >= "{rfc3339(record.event_time - window)}"')
        parts.append(f'event_time <= "{rfc3339(record.event_time + window)}"')
    if FINDING_NAME.match(record.key):
        parts.append(f"-name={quoted(record.key, FINDING_NAME)}")
    return " AND ".join(parts)


def same_script_filter(sha256: str, since: datetime) -> str:
    """Return the filter for findings that ran the script with this hash."""
    return f'processes.script.sha256={quoted(sha256, SHA256)} AND event_time >= "{rfc3339(since)}"'


def find_related(
    clients: GoogleClients,
    settings: Settings,
    record: FindingRecord,
    *,
    store: FindingStore,
    permalink: Callable[[str, str], str],
) -> RelatedFindings:
    """List related findings and the other resources that ran the same script."""
    parent = findings_parent(settings.scc_parent, record)
    window = timedelta(minutes=settings.related_window_minutes)
    expression = related_filter(record, window)
    request = scc.ListFindingsRequest(
        parent=parent, filter=expression, order_by="event_time desc", page_size=MAX_SHOWN
    )
    with google_errors(Api.SCC, f"list findings in {parent}"):
        pager = clients.scc.list_findings(request=request, timeout=CALL_TIMEOUT)
        first = next(iter(pager.pages))
    own = {record.key, record.finding.canonical_name}
    shown = tuple(
        _related(result, settings.gcp_console_url)
        for result in first.list_findings_results
        if result.finding.name not in own
    )
    total = max(int(first.total_size), len(shown))
    sha256 = record.script_sha256.lower()
    if not SHA256.match(sha256):
        return RelatedFindings(
            parent, expression, window if record.event_time else None, shown, total
        )
    elsewhere, note = _same_script(clients, settings, record, sha256, parent, store, permalink)
    return RelatedFindings(
        parent=parent,
        filter=expression,
        window=window if record.event_time else None,
        findings=shown,
        total=total,
        sha256=sha256,
        same_script=elsewhere,
        same_script_note=note,
    )


def _same_script(
    clients: GoogleClients,
    settings: Settings,
    record: FindingRecord,
    sha256: str,
    parent: str,
    store: FindingStore,
    permalink: Callable[[str, str], str],
) -> tuple[tuple[SameScript, ...], str]:
    # Looking back from the event keeps an older finding's answer about its own time.
    since = min(utcnow(), record.event_time or utcnow()) - timedelta(
        hours=settings.same_script_lookback_hours
    )
    own = record.resource_name
    found: dict[str, SameScript] = {}
    for stored in store.same_script_elsewhere(sha256, exclude_resource=own, since=since):
        if _same_resource(stored.resource_name, own):
            continue
        link = ""
        if stored.channel and stored.message_ts:
            link = permalink(stored.channel, stored.message_ts)
        found[stored.resource_name] = SameScript(
            resource_label=stored.resource_label or stored.resource_name,
            resource_name=stored.resource_name,
            event_time=stored.last_event_time or stored.event_time,
            slack_link=link,
            console_url=links.finding_console_url(stored.key, base=settings.gcp_console_url),
            source="bot",
        )
    request = scc.ListFindingsRequest(
        parent=parent,
        filter=same_script_filter(sha256, since),
        order_by="event_time desc",
        page_size=SAME_SCRIPT_PAGE,
    )
    note = ""
    first: scc.ListFindingsResponse | None = None
    with google_errors(Api.SCC, f"list findings in {parent}"):
        try:
            pager = clients.scc.list_findings(request=request, timeout=CALL_TIMEOUT)
            first = next(iter(pager.pages))
        except gexc.InvalidArgument as exc:
            # Where SCC does not filter on process fields, the bot's own records still answer.
            logger.warning("SCC refused the script-hash filter: %s", exc.message)
            note = "SCC did not accept a filter on the script hash; only the bot's records."
    for result in first.list_findings_results if first is not None else ():
        other = record_from_result(result)
        name = other.resource_name
        if _same_resource(name, own) or name in found:
            continue
        found[name] = SameScript(
            resource_label=_label(other),
            resource_name=name,
            event_time=other.event_time,
            slack_link="",
            console_url=links.finding_console_url(
                other.key, organization_id=other.organization_id, base=settings.gcp_console_url
            ),
            source="scc",
        )
    return tuple(found.values()), note


def _same_resource(name: str, own: str) -> bool:
    return name == own or name.startswith(own + "/") or own.startswith(name + "/")


def _related(
    result: scc.ListFindingsResponse.ListFindingsResult, console_base: str
) -> RelatedFinding:
    other = record_from_result(result)
    return RelatedFinding(
        name=other.key,
        category=other.category,
        severity=str(other.severity),
        state=other.state,
        event_time=other.event_time,
        resource_label=_label(other),
        console_url=links.finding_console_url(
            other.key, organization_id=other.organization_id, base=console_base
        ),
    )


def _label(record: FindingRecord) -> str:
    target = parse_cloud_run_target(record.resource_name, location=record.resource.location)
    if target is not None:
        detail = target.revision or target.execution
        suffix = f" ({detail})" if detail else ""
        return f"{target.label}{suffix} in {target.project}"
    return record.resource.display_name or record.resource_name
