"""Links the bot builds from validated values; the only links a message ever carries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from bot.resources import CloudRunTarget, RunKind

CONSOLE = "https://console.cloud.google.com"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_FINDING = re.compile(
    r"^(?:organizations|folders|projects)/[A-Za-z0-9\-]+/sources/[0-9\-]+"
    r"(?:/locations/[a-z0-9\-]+)?/findings/[A-Za-z0-9_\-]+$"
)


def virustotal_url(sha256: str) -> str:
    """Return the VirusTotal page of a SHA-256, or an empty string for anything else."""
    if not _SHA256.match(sha256):
        return ""
    return f"https://www.virustotal.com/gui/file/{sha256.lower()}"


def finding_console_url(
    finding_name: str, *, organization_id: str = "", base: str = CONSOLE
) -> str:
    """Return the SCC console page of a finding, or an empty string for an odd name."""
    if not _FINDING.match(finding_name):
        return ""
    query = f"?organizationId={organization_id}" if organization_id.isdigit() else ""
    return f"{base}/security/command-center/findingsv2;name={quote(finding_name, safe='')}{query}"


def run_console_url(target: CloudRunTarget, *, base: str = CONSOLE) -> str:
    """Return the Cloud Run console page of the service or job."""
    project = quote(target.project, safe="")
    if target.kind is RunKind.JOB:
        return (
            f"{base}/run/jobs/details/{target.location}/{target.name}/executions?project={project}"
        )
    return f"{base}/run/detail/{target.location}/{target.name}/revisions?project={project}"


def logs_query(target: CloudRunTarget) -> str:
    """Return the Cloud Logging filter selecting the target's own logs (no time bounds)."""
    if target.kind is RunKind.JOB:
        parts = ['resource.type="cloud_run_job"', f'resource.labels.job_name="{target.name}"']
        if target.execution:
            parts.append(f'labels."run.googleapis.com/execution_name"="{target.execution}"')
    else:
        parts = [
            'resource.type="cloud_run_revision"',
            f'resource.labels.service_name="{target.name}"',
        ]
        if target.revision:
            parts.append(f'resource.labels.revision_name="{target.revision}"')
    parts.append(f'resource.labels.location="{target.location}"')
    return "\n".join(parts)


def logs_explorer_url(
    target: CloudRunTarget,
    *,
    around: datetime | None,
    window: timedelta = timedelta(minutes=10),
    query: str | None = None,
    base: str = CONSOLE,
) -> str:
    """Return a Logs Explorer link with the target's query, bounded around ``around``."""
    path = f"{base}/logs/query;query={quote(query or logs_query(target), safe='')}"
    if around is not None and datetime.min + window < around.replace(tzinfo=None) < (
        datetime.max - window
    ):
        start = (around - window).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        end = (around + window).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        path += f";startTime={start};endTime={end}"
    return f"{path}?{urlencode({'project': target.project})}"
