"""Parse SCC notifications into one typed record, whatever shape they arrive in.

SCC publishes ``NotificationMessage`` JSON: v2 configs nest the project under
``resource.gcpMetadata``, v1 configs put ``projectDisplayName`` on ``resource`` and name
findings without a location. Field names may be lowerCamel (as SCC sends them) or
snake_case (as re-exports and tests often write them); the protobuf JSON parser accepts
both. A field whose value has the wrong type is dropped and reported instead of failing the
whole notification, so a finding is never lost over one odd field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from google.cloud import securitycenter_v2 as scc
from google.protobuf import json_format

from bot.resources import CloudRunTarget, parse_cloud_run_target
from bot.severity import Severity

_V1_FINDING = re.compile(
    r"^(?P<parent>(?:organizations|folders|projects)/[^/]+/sources/[^/]+)/findings/(?P<id>[^/]+)$"
)
_V2_FINDING = re.compile(
    r"^(?:organizations|folders|projects)/[^/]+/sources/[^/]+/locations/[^/]+/findings/[^/]+$"
)
# Largest notification we accept; SCC caps findings well below this.
MAX_NOTIFICATION_BYTES = 10 * 1024 * 1024


class NotificationParseError(Exception):
    """The notification cannot be turned into a finding; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FindingRecord:
    """One finding as received, with the facts every surface needs derived once.

    The record never changes, so each derived fact is computed on first use and kept.
    """

    finding: scc.Finding
    resource: scc.Resource
    notification_config: str = ""
    deleted: bool = False
    # v1 notifications carry the project's display name on ``resource`` itself.
    v1_project_display_name: str = ""
    unreadable_fields: tuple[str, ...] = ()
    content_hash: str = field(default="", compare=False)
    # The notification as received, kept so the store need not serialize it again.
    source: str = field(default="", compare=False, repr=False)

    @cached_property
    def key(self) -> str:
        """Return the finding's v2 name, the one key it is stored under."""
        return normalize_finding_name(self.finding.name)

    @cached_property
    def category(self) -> str:
        return self.finding.category or "Unknown category"

    @cached_property
    def severity(self) -> Severity:
        return Severity.parse(enum_name(scc.Finding.Severity, self.finding.severity))

    @cached_property
    def state(self) -> str:
        return enum_name(scc.Finding.State, self.finding.state)

    @cached_property
    def mute(self) -> str:
        return enum_name(scc.Finding.Mute, self.finding.mute)

    @cached_property
    def event_time(self) -> datetime | None:
        return _timestamp(self.finding, "event_time")

    @cached_property
    def project_display_name(self) -> str:
        metadata = self.resource.gcp_metadata
        return metadata.project_display_name or self.v1_project_display_name

    @cached_property
    def project_number(self) -> str:
        project = self.resource.gcp_metadata.project
        return project.rsplit("/", 1)[-1] if project else ""

    @cached_property
    def organization_id(self) -> str:
        for candidate in (self.resource.gcp_metadata.organization, self.finding.name):
            match = re.match(r"^organizations/(\d+)", candidate)
            if match:
                return match.group(1)
        return ""

    @cached_property
    def resource_name(self) -> str:
        return self.finding.resource_name or self.resource.name

    @cached_property
    def cloud_run(self) -> CloudRunTarget | None:
        """Return the Cloud Run service, revision, job or execution the finding names."""
        target = parse_cloud_run_target(self.resource_name, location=self.resource.location)
        if target is None:
            return None
        return target.with_runtime_hints(_runtime_hints(self.finding))

    @cached_property
    def script_sha256(self) -> str:
        for process in self.finding.processes:
            if process.script.sha256:
                return process.script.sha256
        return ""


def parse_notification(data: bytes | str) -> FindingRecord:
    """Parse one Pub/Sub message body into a FindingRecord.

    Raises:
        NotificationParseError: the body is not a notification or names no finding.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_NOTIFICATION_BYTES:
            raise NotificationParseError(f"notification is {len(data)} bytes, over the limit")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotificationParseError(f"not UTF-8 (byte {exc.start})") from None
    else:
        text = data
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotificationParseError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise NotificationParseError("not a JSON object")

    # Some exports publish the bare finding rather than the notification around it.
    if "finding" not in document and "name" in document and "category" in document:
        document = {"finding": document}
    raw_finding = document.get("finding")
    if not isinstance(raw_finding, dict):
        raise NotificationParseError("no finding in the notification")
    raw_resource = document.get("resource")
    if not isinstance(raw_resource, dict):
        raw_resource = {}

    finding, bad_finding = _parse_message(scc.Finding, raw_finding)
    resource, bad_resource = _parse_message(scc.Resource, raw_resource)
    if not finding.name or not (_V2_FINDING.match(finding.name) or _V1_FINDING.match(finding.name)):
        raise NotificationParseError("the finding has no valid name")

    config = document.get("notificationConfigName", document.get("notification_config_name"))
    v1_display = raw_resource.get("projectDisplayName", raw_resource.get("project_display_name"))
    unreadable = tuple(
        [f"finding.{name}" for name in bad_finding]
        + _unknown_enums(finding, raw_finding)
        + [f"resource.{name}" for name in bad_resource]
    )
    deleted = document.get("deletedFinding", document.get("deleted_finding")) is True
    return FindingRecord(
        finding=finding,
        resource=resource,
        notification_config=config if isinstance(config, str) else "",
        deleted=deleted,
        v1_project_display_name=v1_display if isinstance(v1_display, str) else "",
        unreadable_fields=unreadable,
        content_hash=_content_hash(finding, resource, deleted),
        source=text,
    )


def enum_name(enum_type: Any, value: Any) -> str:
    """Return an enum value's name, or ``UNKNOWN_<n>`` for a number the enum lacks."""
    try:
        return str(enum_type(value).name)
    except ValueError:
        return f"UNKNOWN_{int(value)}"


_CHECKED_ENUMS = (
    ("severity", scc.Finding.Severity),
    ("state", scc.Finding.State),
    ("mute", scc.Finding.Mute),
    ("finding_class", scc.Finding.FindingClass),
)


def _unknown_enums(finding: scc.Finding, raw: dict[str, Any]) -> list[str]:
    """Name the enum fields SCC sent with a value this library does not know.

    A number outside the enum is kept as a number; a name outside it is dropped by the
    parser, so it shows as unset although the notification carried a value.
    """
    unknown = []
    for name, enum_type in _CHECKED_ENUMS:
        value = getattr(finding, name)
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        sent = raw.get(camel, raw.get(name))
        if enum_name(enum_type, value).startswith("UNKNOWN_") or (
            int(value) == 0 and sent not in (None, "", 0) and not str(sent).endswith("UNSPECIFIED")
        ):
            unknown.append(f"finding.{name}")
    return unknown


def normalize_finding_name(name: str) -> str:
    """Map a v1 finding name onto its v2 form in the ``global`` location."""
    match = _V1_FINDING.match(name)
    if match:
        return f"{match.group('parent')}/locations/global/findings/{match.group('id')}"
    return name


def record_to_json(record: FindingRecord) -> str:
    """Serialize a record as a v2 NotificationMessage, the form the store keeps."""
    message = scc.NotificationMessage(
        notification_config_name=record.notification_config,
        finding=record.finding,
        resource=record.resource,
    )
    document = json.loads(
        scc.NotificationMessage.to_json(message, use_integers_for_enums=False, indent=None)
    )
    if record.v1_project_display_name:
        document.setdefault("resource", {})["projectDisplayName"] = record.v1_project_display_name
    if record.deleted:
        document["deletedFinding"] = True
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def record_from_result(result: scc.ListFindingsResponse.ListFindingsResult) -> FindingRecord:
    """Build a record from one ``list_findings`` result."""
    finding = scc.Finding(result.finding)
    resource = _resource_from_list_result(result)
    return FindingRecord(
        finding=finding,
        resource=resource,
        content_hash=_content_hash(finding, resource, False),
    )


def _resource_from_list_result(
    result: scc.ListFindingsResponse.ListFindingsResult,
) -> scc.Resource:
    listed = result.resource
    return scc.Resource(
        name=listed.name,
        display_name=listed.display_name,
        type_=listed.type_,
        service=listed.service,
        location=listed.location,
        gcp_metadata=listed.gcp_metadata,
    )


def _parse_message(message_type: Any, raw: dict[str, Any]) -> tuple[Any, list[str]]:
    """Parse ``raw`` into ``message_type``, dropping top-level fields that do not fit."""
    try:
        return message_type.from_json(json.dumps(raw), ignore_unknown_fields=True), []
    except (json_format.ParseError, ValueError, TypeError, RecursionError):
        pass
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in raw.items():
        try:
            message_type.from_json(json.dumps({name: value}), ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError):
            dropped.append(str(name)[:64])
            continue
        kept[name] = value
    try:
        return message_type.from_json(json.dumps(kept), ignore_unknown_fields=True), dropped
    except (json_format.ParseError, ValueError, TypeError, RecursionError):
        # Fields valid alone can still clash together (a field given under both names).
        return message_type(), [*dropped, *(str(name)[:64] for name in kept)]


def _content_hash(finding: scc.Finding, resource: scc.Resource, deleted: bool) -> str:
    digest = hashlib.sha256()
    # Map fields (source properties, marks) serialize in arbitrary order unless asked.
    digest.update(scc.Finding.pb(finding).SerializeToString(deterministic=True))
    digest.update(scc.Resource.pb(resource).SerializeToString(deterministic=True))
    digest.update(b"deleted" if deleted else b"")
    return digest.hexdigest()


def _timestamp(message: Any, name: str) -> datetime | None:
    pb = type(message).pb(message)
    if not pb.HasField(name):
        return None
    value = getattr(pb, name)
    return datetime.fromtimestamp(value.seconds + value.nanos / 1e9, tz=UTC)


def _runtime_hints(finding: scc.Finding) -> dict[str, str]:
    """Collect the revision or execution a container label or env variable names."""
    hints: dict[str, str] = {}
    for container in finding.containers:
        for label in container.labels:
            if label.name in ("run.googleapis.com/revision", "run.googleapis.com/execution"):
                hints.setdefault(label.name.rsplit("/", 1)[-1], label.value)
    for process in finding.processes:
        for variable in process.env_variables:
            if variable.name == "K_REVISION":
                hints.setdefault("revision", variable.val)
            elif variable.name == "CLOUD_RUN_EXECUTION":
                hints.setdefault("execution", variable.val)
    return hints
