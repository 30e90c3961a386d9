"""Parse the Cloud Run resource a finding names, in every form SCC may use.

A Cloud Run Threat Detection finding may name the service, one of its revisions, a job or
a job execution, as a full resource name (``//run.googleapis.com/projects/P/locations/L/
services/S``), a relative one, or the Knative-style v1 form (``namespaces/P/services/S``)
whose location is only in the finding's resource. Names that do not validate are not
parsed, so that nothing built from them (API requests, console links) carries finding text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

_PREFIX = "//run.googleapis.com/"
# Project ids are 6–30 chars; project numbers are digits. Domain-scoped ids have a colon.
_PROJECT = r"(?:[a-z][a-z0-9\-]{4,28}[a-z0-9]|\d{1,20}|[a-z0-9.\-]{1,63}:[a-z][a-z0-9\-]{4,28})"
_LOCATION = r"[a-z]+(?:-[a-z]+[0-9]*)+"
# Cloud Run resource ids: lowercase letters, digits and hyphens, at most 63 characters.
_ID = r"[a-z](?:[a-z0-9\-]{0,61}[a-z0-9])?"

_V2 = re.compile(
    rf"^projects/(?P<project>{_PROJECT})/locations/(?P<location>{_LOCATION})/"
    rf"(?:services/(?P<service>{_ID})(?:/revisions/(?P<revision>{_ID}))?"
    rf"|revisions/(?P<bare_revision>{_ID})"
    rf"|jobs/(?P<job>{_ID})(?:/executions/(?P<execution>{_ID})(?:/tasks/(?P<task>{_ID}))?)?)$"
)
_KNATIVE = re.compile(
    rf"^(?:apis/serving\.knative\.dev/v1/)?namespaces/(?P<project>{_PROJECT})/"
    rf"(?:services/(?P<service>{_ID})|revisions/(?P<bare_revision>{_ID}))$"
)
_REVISION_NAME = re.compile(rf"^{_ID}$")


class RunKind(StrEnum):
    SERVICE = "service"
    JOB = "job"


@dataclass(frozen=True)
class CloudRunTarget:
    """A Cloud Run service (and maybe revision) or job (and maybe execution)."""

    kind: RunKind
    project: str
    location: str
    name: str  # the service or job id
    revision: str = ""
    execution: str = ""
    # Where the revision came from: "resource name", "container label", "K_REVISION".
    revision_source: str = ""

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def path(self) -> str:
        """Return the v2 API name of the service or job."""
        collection = "services" if self.kind is RunKind.SERVICE else "jobs"
        return f"{self.parent}/{collection}/{self.name}"

    @property
    def revision_path(self) -> str:
        return f"{self.path}/revisions/{self.revision}" if self.revision else ""

    @property
    def execution_path(self) -> str:
        return f"{self.path}/executions/{self.execution}" if self.execution else ""

    @property
    def label(self) -> str:
        """Return a short human label such as ``service payments-api``."""
        return f"{self.kind.value} {self.name}"

    def with_runtime_hints(self, hints: dict[str, str]) -> CloudRunTarget:
        """Fill the revision or execution from container labels or env variables."""
        if self.kind is RunKind.SERVICE and not self.revision:
            revision = hints.get("revision", "")
            if _REVISION_NAME.match(revision) and revision.startswith(self.name + "-"):
                return replace(self, revision=revision, revision_source="container")
        if self.kind is RunKind.JOB and not self.execution:
            execution = hints.get("execution", "")
            if _REVISION_NAME.match(execution) and execution.startswith(self.name + "-"):
                return replace(self, execution=execution)
        return self


def parse_cloud_run_target(resource_name: str, *, location: str = "") -> CloudRunTarget | None:
    """Parse a Cloud Run resource name, or return None when it is not one.

    Args:
        resource_name: full (``//run.googleapis.com/...``) or relative resource name.
        location: the finding resource's location, needed for Knative-style names.
    """
    relative = resource_name.removeprefix(_PREFIX)
    match = _V2.match(relative)
    if match:
        return _from_v2(match)
    match = _KNATIVE.match(relative)
    if match and re.fullmatch(_LOCATION, location or ""):
        service = match.group("service")
        revision = match.group("bare_revision") or ""
        if not service:
            service = _service_of_revision(revision)
        if not service:
            return None
        return CloudRunTarget(
            kind=RunKind.SERVICE,
            project=match.group("project"),
            location=location,
            name=service,
            revision=revision,
            revision_source="resource name" if revision else "",
        )
    return None


def _from_v2(match: re.Match[str]) -> CloudRunTarget | None:
    project, location = match.group("project"), match.group("location")
    if match.group("job"):
        return CloudRunTarget(
            kind=RunKind.JOB,
            project=project,
            location=location,
            name=match.group("job"),
            execution=match.group("execution") or "",
        )
    service = match.group("service")
    revision = match.group("revision") or match.group("bare_revision") or ""
    if not service:
        service = _service_of_revision(revision)
        if not service:
            return None
    return CloudRunTarget(
        kind=RunKind.SERVICE,
        project=project,
        location=location,
        name=service,
        revision=revision,
        revision_source="resource name" if revision else "",
    )


def _service_of_revision(revision: str) -> str:
    """Derive the service from a generated revision name ``<service>-00042-xyz``."""
    match = re.match(rf"^(?P<service>{_ID})-\d{{5}}-[a-z0-9]{{3}}$", revision)
    return match.group("service") if match else ""
