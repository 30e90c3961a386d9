"""A Security Command Center v2 stand-in serving ``google.cloud.securitycenter.v2``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import grpc
from google.cloud import securitycenter_v2

from standins import filters, scc_filter
from standins.grpc_server import GrpcStandIn
from standins.recorder import CallRecorder, Refused, handlers

logger = logging.getLogger(__name__)

SERVICE = "google.cloud.securitycenter.v2.SecurityCenter"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

_PARENT = re.compile(
    r"^(?P<scope>(organizations|folders|projects)/[^/]+)/sources/(?P<source>[^/]+)"
    r"(/locations/(?P<location>[^/]+))?$"
)
_FINDING_NAME = re.compile(
    r"^(?P<scope>(organizations|folders|projects)/[^/]+)/sources/(?P<source>[^/]+)"
    r"(/locations/(?P<location>[^/]+))?/findings/(?P<finding>[^/]+)$"
)
_ORDER_FIELDS = {
    "name",
    "parent",
    "state",
    "category",
    "resource_name",
    "event_time",
    "security_marks.marks",
}
_Finding = securitycenter_v2.Finding


@dataclass
class _Stored:
    finding: securitycenter_v2.Finding
    resource: securitycenter_v2.Resource


class SccStandIn:
    """Findings in memory behind the real SecurityCenter gRPC service."""

    def __init__(self) -> None:
        self.recorder = CallRecorder()
        self._findings: dict[str, _Stored] = {}
        self._lock = threading.Lock()
        v2 = securitycenter_v2
        table = {
            "ListFindings": (self._list_findings, v2.ListFindingsRequest, v2.ListFindingsResponse),
            "SetMute": (self._set_mute, v2.SetMuteRequest, v2.Finding),
            "SetFindingState": (self._set_state, v2.SetFindingStateRequest, v2.Finding),
            "UpdateSecurityMarks": (
                self._update_marks,
                v2.UpdateSecurityMarksRequest,
                v2.SecurityMarks,
            ),
            "GetSource": (self._get_source, v2.GetSourceRequest, v2.Source),
        }
        self._server = GrpcStandIn({SERVICE: handlers(self.recorder, table)})
        self.address = self._server.address
        self.requests = self.recorder.requests
        self.requests_to = self.recorder.requests_to
        self.fail_next = self.recorder.fail_next
        self.delay_next = self.recorder.delay_next

    def start(self) -> SccStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SccStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_finding(
        self,
        finding: securitycenter_v2.Finding,
        resource: securitycenter_v2.Resource | None = None,
    ) -> None:
        """Store a finding (replacing one of the same name) with its resource."""
        if not _FINDING_NAME.match(finding.name):
            raise ValueError(f"not a v2 finding name: {finding.name!r}")
        resource = resource or securitycenter_v2.Resource(name=finding.resource_name)
        with self._lock:
            self._findings[finding.name] = _Stored(_Finding(finding), resource)

    def add_notification_json(self, raw: str) -> securitycenter_v2.Finding:
        """Store the finding and resource of a NotificationMessage JSON document."""
        message = securitycenter_v2.NotificationMessage.from_json(raw, ignore_unknown_fields=True)
        self.add_finding(message.finding, message.resource)
        return message.finding

    def finding(self, name: str) -> securitycenter_v2.Finding:
        """Return a copy of a stored finding as it is now."""
        with self._lock:
            return _Finding(self._lookup(name).finding)

    def _lookup(self, name: str) -> _Stored:
        stored = self._findings.get(name)
        if stored is None:
            stored = next(
                (s for s in self._findings.values() if s.finding.canonical_name == name), None
            )
        if stored is None:
            raise KeyError(name)
        return stored

    def _stored(self, name: str) -> _Stored:
        if not _FINDING_NAME.match(name):
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid finding name {name!r}")
        try:
            return self._lookup(name)
        except KeyError:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"finding {name!r} not found") from None

    def _list_findings(
        self, request: securitycenter_v2.ListFindingsRequest, context: grpc.ServicerContext
    ) -> securitycenter_v2.ListFindingsResponse:
        parent = _PARENT.match(request.parent)
        if parent is None:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {request.parent!r}")
        if request.page_size < 0 or request.page_size > MAX_PAGE_SIZE:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 1..{MAX_PAGE_SIZE}")
        try:
            expr = filters.parse(request.filter)
            scc_filter.check(expr)
            order = _parse_order_by(request.order_by)
            with self._lock:
                matching = [
                    s
                    for s in self._findings.values()
                    if _in_parent(s, parent)
                    and filters.evaluate(
                        expr,
                        scc_filter.resolver(
                            _Finding.pb(s.finding), securitycenter_v2.Resource.pb(s.resource)
                        ),
                    )
                ]
        except filters.FilterError as exc:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter: {exc}") from exc
        for key, descending in reversed(order):
            matching.sort(key=lambda s, k=key: _sort_key(s, k), reverse=descending)  # type: ignore[misc]

        query_key = _query_key(request)
        start = _read_token(request.page_token, query_key)
        size = request.page_size or DEFAULT_PAGE_SIZE
        page = matching[start : start + size]
        more = start + size < len(matching)
        results = [
            securitycenter_v2.ListFindingsResponse.ListFindingsResult(
                finding=s.finding, resource=_result_resource(s.resource)
            )
            for s in page
        ]
        return securitycenter_v2.ListFindingsResponse(
            list_findings_results=results,
            total_size=len(matching),
            next_page_token=_make_token(start + size, query_key) if more else "",
        )

    def _set_mute(
        self, request: securitycenter_v2.SetMuteRequest, context: grpc.ServicerContext
    ) -> securitycenter_v2.Finding:
        if request.mute == _Finding.Mute.MUTE_UNSPECIFIED:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "mute must be set")
        with self._lock:
            stored = self._stored(request.name)
            stored.finding.mute = request.mute
            stored.finding.mute_update_time = dt.datetime.now(dt.UTC)
            return _Finding(stored.finding)

    def _set_state(
        self, request: securitycenter_v2.SetFindingStateRequest, context: grpc.ServicerContext
    ) -> securitycenter_v2.Finding:
        if request.state == _Finding.State.STATE_UNSPECIFIED:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "state must be set")
        with self._lock:
            stored = self._stored(request.name)
            stored.finding.state = request.state
            return _Finding(stored.finding)

    def _update_marks(
        self, request: securitycenter_v2.UpdateSecurityMarksRequest, context: grpc.ServicerContext
    ) -> securitycenter_v2.SecurityMarks:
        marks = request.security_marks
        suffix = "/securityMarks"
        if not marks.name.endswith(suffix):
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid marks name {marks.name!r}")
        paths = list(request.update_mask.paths) if "update_mask" in request else []
        for path in paths:
            if path != "marks" and not path.startswith("marks."):
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT, f"invalid update_mask path {path!r}"
                )
        with self._lock:
            stored = self._stored(marks.name[: -len(suffix)])
            current = dict(stored.finding.security_marks.marks)
            if not paths or "marks" in paths:
                # Without a mask, or with the whole map named, the request replaces all marks.
                current = dict(marks.marks)
            else:
                for path in paths:
                    key = path[len("marks.") :]
                    if key in marks.marks:
                        current[key] = marks.marks[key]
                    else:
                        current.pop(key, None)
            stored.finding.security_marks = securitycenter_v2.SecurityMarks(
                name=stored.finding.name + suffix,
                marks=current,
                canonical_name=stored.finding.security_marks.canonical_name,
            )
            return securitycenter_v2.SecurityMarks(stored.finding.security_marks)

    def _get_source(
        self, request: securitycenter_v2.GetSourceRequest, context: grpc.ServicerContext
    ) -> securitycenter_v2.Source:
        match = _PARENT.match(request.name)
        if match is None or match["source"] == "-":
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid source {request.name!r}")
        with self._lock:
            for stored in self._findings.values():
                finding = _FINDING_NAME.match(stored.finding.name)
                if finding is not None and finding["source"] == match["source"]:
                    return securitycenter_v2.Source(
                        name=request.name, display_name=stored.finding.parent_display_name
                    )
        raise Refused(grpc.StatusCode.NOT_FOUND, f"source {request.name!r} not found")


def _in_parent(stored: _Stored, parent: re.Match[str]) -> bool:
    finding = stored.finding
    name = _FINDING_NAME.match(finding.name)
    if name is None:
        return False
    if parent["source"] != "-" and parent["source"] != name["source"]:
        return False
    if (parent["location"] or "global") != (name["location"] or "global"):
        return False
    scope = parent["scope"]
    metadata = stored.resource.gcp_metadata
    kind, _, ident = scope.partition("/")
    if kind == "organizations":
        return name["scope"] == scope or metadata.organization == scope
    if kind == "folders":
        folders = {f.resource_folder.rsplit("/", 1)[-1] for f in metadata.folders}
        return name["scope"] == scope or ident in folders
    projects = {metadata.project.rsplit("/", 1)[-1], metadata.project_display_name}
    canonical = _FINDING_NAME.match(finding.canonical_name)
    return (
        name["scope"] == scope
        or (canonical is not None and canonical["scope"] == scope)
        or ident in projects
    )


def _parse_order_by(order_by: str) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for clause in filter(None, (c.strip() for c in order_by.split(","))):
        words = clause.split()
        if words[0] not in _ORDER_FIELDS or len(words) > 2:
            raise filters.FilterError(f"invalid order_by {clause!r}")
        if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
            raise filters.FilterError(f"invalid order_by direction {words[1]!r}")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def _sort_key(stored: _Stored, key: str) -> Any:
    if key == "security_marks.marks":
        return sorted(stored.finding.security_marks.marks.items())
    value = getattr(stored.finding, key)
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return int(value) if hasattr(value, "value") else value


def _result_resource(
    resource: securitycenter_v2.Resource,
) -> securitycenter_v2.ListFindingsResponse.ListFindingsResult.Resource:
    result_type = securitycenter_v2.ListFindingsResponse.ListFindingsResult.Resource
    # The list result carries its own Resource message with the same field numbers.
    return result_type.deserialize(securitycenter_v2.Resource.serialize(resource))


def _query_key(request: securitycenter_v2.ListFindingsRequest) -> str:
    text = "\n".join((request.parent, request.filter, request.order_by))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _make_token(offset: int, query_key: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{query_key}".encode()).decode()


def _read_token(token: str, query_key: str) -> int:
    if not token:
        return 0
    try:
        offset, key = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if key == query_key:
            return int(offset)
    except ValueError:
        pass  # falls through to the same refusal as a token from another query
    raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "page_token does not match the request")
