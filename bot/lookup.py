"""Fetch and list SCC findings for what people asked in Slack, and resolve bare ids.

Takes values already validated by bot.finding_query, checks them against SCC_PARENT, asks SCC
or the bot's store, and returns FindingRecords.

SCC has no GetFinding: one finding is fetched with ``ListFindings`` under its own source and
``name="…"``, the only operator SCC documents for ``name``. That is also why a bare finding
id cannot be searched for across sources; it is resolved from the bot's own store instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.api_core import exceptions as google_errors
from google.cloud import securitycenter_v2 as scc

from blocks.text import inline_code
from bot.errors import PermissionMissing, UserFacingError
from bot.finding import FindingRecord, record_from_result
from bot.finding_query import (
    BARE_ID,
    PROJECT_NUMBER,
    SCC_PARENT,
    SHOW_EXAMPLE,
    V2_NAME,
    ListQuery,
    LookupInputError,
)
from bot.store import FindingStore

logger = logging.getLogger(__name__)

FINDINGS_VIEWER = "roles/securitycenter.findingsViewer"
PAGE_SIZE = 10


# -- scope and names ------------------------------------------------------------------------


def check_in_scope(name: str, scc_parent: str | None) -> None:
    """Refuse a v2 finding name that cannot lie under SCC_PARENT, before asking SCC.

    Only what the names themselves show is refused: another organization, an organization
    under a folder, another project named the same way (both ids or both numbers). Whether
    a folder or project belongs to the organization needs Resource Manager; SCC's own
    permissions decide those.

    Raises:
        LookupInputError: the finding is outside the scope the bot serves.
    """
    match = V2_NAME.match(name)
    if match is None:
        raise ValueError(f"not a v2 finding name: {name!r}")
    if not scc_parent or not SCC_PARENT.match(scc_parent):
        return
    scope = match["scope"]
    kind, _, parent_id = scc_parent.partition("/")
    scope_kind, _, scope_id = scope.partition("/")
    if kind == "organizations":
        outside = scope_kind == "organizations" and scope != scc_parent
    elif kind == "folders":
        outside = scope_kind == "organizations"
    else:
        same_form = bool(PROJECT_NUMBER.match(scope_id)) == bool(PROJECT_NUMBER.match(parent_id))
        outside = scope_kind != "projects" or (same_form and scope_id != parent_id)
    if outside:
        raise LookupInputError(
            f"{inline_code(name, 200)} is outside what this bot looks after "
            f"(`SCC_PARENT` is `{scc_parent}`); it looks up findings under it only."
        )


def source_parent(name: str) -> str:
    """Return ``scope/sources/S/locations/L`` of a v2 finding name."""
    match = V2_NAME.match(name)
    if match is None:
        raise ValueError(f"not a v2 finding name: {name!r}")
    return f"{match['scope']}/sources/{match['source']}/locations/{match['location']}"


def name_candidates(name: str, scc_parent: str | None) -> tuple[str, ...]:
    """Return the names a finding may be listed under.

    A canonical name (``projects/<number>/…``) names the same finding as its organization
    form when the source belongs to the organization, so with an organization SCC_PARENT
    both are asked for.
    """
    match = V2_NAME.match(name)
    if match is None:
        raise ValueError(f"not a v2 finding name: {name!r}")
    names = [name]
    if (
        match["scope"].startswith("projects/")
        and scc_parent
        and scc_parent.startswith("organizations/")
        and SCC_PARENT.match(scc_parent)
    ):
        names.append(
            f"{scc_parent}/sources/{match['source']}/locations/{match['location']}"
            f"/findings/{match['id']}"
        )
    return tuple(names)


def name_filter(names: Sequence[str]) -> str:
    """Return the SCC filter selecting findings by exact (validated) name."""
    for name in names:
        if not V2_NAME.match(name):
            raise ValueError(f"not a v2 finding name: {name!r}")
    return " OR ".join(f'name="{name}"' for name in names)


# -- SCC calls ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingPage:
    """One page of findings, newest first, and the token of the next page."""

    records: tuple[FindingRecord, ...]
    next_page_token: str
    total: int


def resolve_finding_id(store: FindingStore, finding_id: str) -> str:
    """Return the name of the one finding with this id the bot has seen.

    Raises:
        LookupInputError: the bot has not seen it, or several sources use the id.
    """
    if not BARE_ID.match(finding_id):
        raise ValueError("not a finding id")
    keys = store.keys_with_finding_id(finding_id)
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise LookupInputError(
            f"The bot has not seen a finding with id `{finding_id}`. SCC cannot search for an "
            f"id on its own: give the full name or the console link, such as {SHOW_EXAMPLE}."
        )
    raise LookupInputError(
        f"Several findings have the id `{finding_id}`; give the full name, such as {SHOW_EXAMPLE}."
    )


def fetch_finding(
    client: scc.SecurityCenterClient, name: str, *, scc_parent: str | None
) -> FindingRecord:
    """Fetch one finding by its v2 name from SCC.

    Raises:
        LookupInputError: the name is outside SCC_PARENT.
        UserFacingError: SCC has no such finding, refused, or did not answer.
    """
    check_in_scope(name, scc_parent)
    names = name_candidates(name, scc_parent)
    request = scc.ListFindingsRequest(
        parent=source_parent(name), filter=name_filter(names), page_size=len(names)
    )
    pager = _call(lambda: client.list_findings(request=request))
    results = list(pager.list_findings_results)
    if not results:
        raise UserFacingError(
            f"Security Command Center has no finding `{name}` (or the bot may not see it)."
        )
    return record_from_result(results[0])


def list_findings(
    client: scc.SecurityCenterClient,
    query: ListQuery,
    *,
    scc_parent: str | None,
    page_size: int = PAGE_SIZE,
) -> FindingPage:
    """Return one page of findings matching ``query``, newest first.

    Raises:
        UserFacingError: SCC_PARENT is not set, or SCC refused or did not answer.
    """
    if not scc_parent or not SCC_PARENT.match(scc_parent):
        raise UserFacingError(
            "Listing needs `SCC_PARENT` (such as `organizations/123456789012`); ask the bot's "
            "operator to set it."
        )
    request = scc.ListFindingsRequest(
        parent=f"{scc_parent}/sources/-/locations/global",
        filter=query.scc_filter(),
        order_by="event_time desc",
        page_size=page_size,
        page_token=query.page_token,
    )
    pager = _call(lambda: client.list_findings(request=request))
    return FindingPage(
        records=tuple(record_from_result(result) for result in pager.list_findings_results),
        next_page_token=pager.next_page_token,
        total=pager.total_size,
    )


T = TypeVar("T")


def _call(call: Callable[[], T]) -> T:
    """Run one SCC call, turning its failures into words for the person who asked."""
    try:
        return call()
    except google_errors.PermissionDenied as exc:
        logger.warning("SCC refused to list findings: %s", exc.message)
        raise PermissionMissing(
            "read findings in Security Command Center", FINDINGS_VIEWER
        ) from exc
    except google_errors.InvalidArgument as exc:
        logger.warning("SCC refused the request: %s", exc.message)
        raise UserFacingError(
            "Security Command Center refused the request (an expired page, or a filter it does "
            "not accept). Run the command again."
        ) from exc
    except (google_errors.GoogleAPICallError, google_errors.RetryError) as exc:
        logger.warning("SCC call failed: %s", _reason(exc))
        raise UserFacingError(
            "Security Command Center did not answer; try again in a minute."
        ) from exc


def _reason(exc: Any) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
