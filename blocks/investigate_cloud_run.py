"""Build the replies to the Container and Logs buttons: a Cloud Run workload's settings and logs.

Pure: takes the typed lookup results from bot.investigate.container and bot.investigate.logs
and returns Slack messages. Every value from an API answer (names, images, log lines) passes
blocks.text; the other investigation replies live in blocks.investigate.
"""

from __future__ import annotations

from typing import Any

from blocks.finding import slack_date
from blocks.ids import InvestigateBlock
from blocks.investigate import REUSED_NOTE, field_sections, fit_lines
from blocks.slack import Block, SlackMessage, context, section
from blocks.text import escape, fit, inline_code
from bot.investigate.container import ContainerImage, JobSettings, ServiceSettings
from bot.investigate.logs import LogsResult

LOG_BLOCK_LIMIT = 2900
LOG_LINE_LIMIT = 240


# -- container settings -----------------------------------------------------------------------


def build_container_reply(
    settings: ServiceSettings | JobSettings, *, reused: bool = False
) -> SlackMessage:
    """Return the container-settings answer for a service or a job."""
    if isinstance(settings, JobSettings):
        return _job_reply(settings, reused)
    target = settings.target
    head = f":package: *Container settings* of service {inline_code(target.name, 80)}"
    if settings.revision:
        head += (
            f", revision {inline_code(settings.revision, 80)} ({escape(settings.revision_source)})"
        )
    if settings.revision_note:
        head += f"\n:warning: {escape(settings.revision_note)}"
    public = ", ".join(f"`{m}`" for m in settings.public_invokers)
    invokers = f":warning: {public} may invoke it" if public else "no public invokers"
    if settings.invoker_iam_disabled:
        invokers += "\n:warning: invoker IAM check *disabled*: anyone who reaches it may call"
    default_url = "on" if settings.default_url else "off"
    if settings.default_url and settings.url:
        default_url += f" {inline_code(settings.url, 200)}"
    fields = [
        *_image_fields(settings.images),
        f"*Service account*\n{inline_code(settings.service_account, 200)}",
        f"*Ingress*\n{escape(settings.ingress)}",
        f"*Invokers*\n{invokers}",
        f"*Default URL*\n{default_url}",
        f"*VPC access*\n{_vpc_text(settings.vpc, settings.egress)}",
        f"*Binary Authorization*\n{inline_code(settings.binary_authorization, 200)}",
        f"*Execution environment*\n{escape(settings.execution_environment)}",
        f"*Scaling*\n{escape(settings.scaling)}",
    ]
    blocks: list[Block] = [section(InvestigateBlock.ANSWER, head)]
    blocks.extend(field_sections(fields))
    traffic = [
        f"• {share.percent}% → {inline_code(share.revision or 'latest', 80)}"
        + (" (latest)" if share.latest else "")
        + (f" tag {inline_code(share.tag, 60)}" if share.tag else "")
        for share in settings.traffic
    ]
    changes = [_change("Service", settings.service_change)]
    if settings.revision_change is not None:
        changes.append(_change("Revision", settings.revision_change))
    detail = [
        "*Traffic*",
        *(traffic or ["• no traffic status reported"]),
        *changes,
        _env_text(settings.images),
    ]
    blocks.append(section(InvestigateBlock.DETAILS, fit_lines(detail)))
    blocks.append(context(InvestigateBlock.NOTE, _notes(settings.console_url, "Cloud Run", reused)))
    return SlackMessage(text=f"Container settings of service {escape(target.name)}", blocks=blocks)


def _job_reply(settings: JobSettings, reused: bool) -> SlackMessage:
    target = settings.target
    head = f":package: *Container settings* of job {inline_code(target.name, 80)}"
    if target.execution:
        head += f", execution {inline_code(target.execution, 80)}"
    fields = [
        *_image_fields(settings.images),
        f"*Service account*\n{inline_code(settings.service_account, 200)}",
        f"*Tasks*\n{escape(settings.tasks)}",
        f"*VPC access*\n{_vpc_text(settings.vpc, settings.egress)}",
        f"*Binary Authorization*\n{inline_code(settings.binary_authorization, 200)}",
        f"*Execution environment*\n{escape(settings.execution_environment)}",
    ]
    blocks: list[Block] = [section(InvestigateBlock.ANSWER, head)]
    blocks.extend(field_sections(fields))
    executions = [
        f"• {inline_code(e.name, 80)} · *{escape(e.state)}* · "
        f"{slack_date(e.created) if e.created else 'not started'} · {escape(e.tasks)}"
        for e in settings.executions
    ]
    detail = [
        "*Recent executions*",
        *(executions or ["• none"]),
        _change("Job", settings.change),
        _env_text(settings.images),
    ]
    blocks.append(section(InvestigateBlock.DETAILS, fit_lines(detail)))
    blocks.append(context(InvestigateBlock.NOTE, _notes(settings.console_url, "Cloud Run", reused)))
    return SlackMessage(text=f"Container settings of job {escape(target.name)}", blocks=blocks)


def _image_fields(images: tuple[ContainerImage, ...]) -> list[str]:
    fields = []
    for image in images[:2]:
        digest = inline_code(image.digest, 80) if image.digest else "not pinned"
        if image.digest_source == "finding":
            digest += " (as the finding saw it)"
        label = f"*Image* {inline_code(image.name, 60)}" if len(images) > 1 else "*Image*"
        fields.append(f"{label}\n{inline_code(image.image, 400)}\ndigest {digest}")
    return fields


def _env_text(images: tuple[ContainerImage, ...]) -> str:
    names = []
    for image in images:
        for variable in image.env[:40]:
            entry = inline_code(variable.name, 80)
            if variable.secret:
                entry += f" (secret {inline_code(variable.secret, 200)})"
            names.append(entry)
    if not names:
        return "*Environment variables*: none"
    return "*Environment variables* (values hidden): " + ", ".join(names)


def _vpc_text(vpc: str, egress: str) -> str:
    if not vpc:
        return "none"
    return f"{inline_code(vpc, 200)}" + (f"\negress: {escape(egress)}" if egress else "")


def _change(what: str, change: Any) -> str:
    parts = [f"*{what}* created"]
    if change.creator:
        parts.append(f"by {inline_code(change.creator, 120)}")
    if change.created:
        parts.append(slack_date(change.created))
    if change.last_modifier or change.updated:
        parts.append("· last changed")
        if change.last_modifier:
            parts.append(f"by {inline_code(change.last_modifier, 120)}")
        if change.updated:
            parts.append(slack_date(change.updated))
    return " ".join(parts)


# -- logs -------------------------------------------------------------------------------------


def build_logs_reply(result: LogsResult, *, reused: bool = False) -> SlackMessage:
    """Return one page of log lines as an escaped code block, with links to the rest."""
    target = result.target
    what = f"job {inline_code(target.name, 80)}"
    if target.kind.value == "service":
        what = f"service {inline_code(target.name, 80)}"
        if target.revision:
            what = f"revision {inline_code(target.revision, 80)}"
    elif target.execution:
        what += f" execution {inline_code(target.execution, 80)}"
    span = ""
    if result.start and result.end:
        span = f" from {slack_date(result.start)} to {slack_date(result.end)}"
    head = f":scroll: *Logs* of {what}{span}"
    blocks: list[Block] = [section(InvestigateBlock.ANSWER, head)]
    if result.lines:
        blocks.append(section(InvestigateBlock.LINES, f"```{_log_body(result)}```"))
    else:
        blocks.append(section(InvestigateBlock.LINES, "No log entries in this window."))
    shown = f"First {len(result.lines)} entries" if result.more else f"{len(result.lines)} entries"
    notes = [f"{shown} · <{result.explorer_url}|Logs Explorer (same query)>"]
    if result.own_log_url:
        notes[0] += f" · <{result.own_log_url}|Cloud Run's own log link>"
    if reused:
        notes.append(REUSED_NOTE)
    blocks.append(context(InvestigateBlock.NOTE, notes))
    return SlackMessage(text=f"Logs: {len(result.lines)} entries", blocks=blocks)


def _log_body(result: LogsResult) -> str:
    lines = []
    for line in result.lines:
        stamp = line.timestamp.strftime("%H:%M:%S.%f")[:-3] if line.timestamp else "--:--:--"
        one_line = line.text.replace("\r\n", "\n").replace("\n", "⏎")
        lines.append(f"{stamp} {line.severity[:8]:<8} {one_line}")
    pieces, used = [], 0
    for raw in lines:
        body, _ = fit(raw, LOG_LINE_LIMIT, code=True)
        if used + len(body) + 1 > LOG_BLOCK_LIMIT:
            pieces.append("…")
            break
        pieces.append(body)
        used += len(body) + 1
    return "\n".join(pieces)


# -- helpers ----------------------------------------------------------------------------------


def _notes(console_url: str, label: str, reused: bool) -> list[str]:
    notes = [f"<{console_url}|Open in {label}>"] if console_url else []
    if reused:
        notes.append(REUSED_NOTE)
    return notes or ["—"]
