"""Build the investigation buttons and each button's reply in the finding's thread.

Pure: takes the typed lookup results from bot.investigate and returns Slack messages. Every
value from a finding or an API answer (names, images, log lines) passes blocks.text; links
come from bot.links or are checked console links.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from blocks.finding import attack_enum_name, attack_link, slack_date
from blocks.ids import InvestigateAction, InvestigateBlock
from blocks.slack import Block, SlackMessage, button, context, fields_section, section
from blocks.text import escape, fit, inline_code
from bot import links, mitre
from bot.finding import FindingRecord
from bot.investigate.container import ContainerImage, JobSettings, ServiceSettings
from bot.investigate.logs import LogsResult
from bot.investigate.related import RelatedFindings
from bot.investigate.script import ScriptFile, cut_scripts
from bot.investigate.virustotal import VirusTotalReport
from bot.refs import finding_ref

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
LOG_BLOCK_LIMIT = 2900
LOG_LINE_LIMIT = 240
REUSED_NOTE = ":recycle: Same answer as a moment ago; click again in a few minutes to refresh."


def build_investigation_actions(record: FindingRecord, *, vt_enabled: bool) -> tuple[dict, ...]:
    """Return the investigation buttons for a finding message."""
    try:
        value = finding_ref(record.key)
    except ValueError:
        return ()
    elements = [button(InvestigateAction.RELATED, ":mag: Related findings", value=value)]
    if record.cloud_run is not None:
        elements.append(button(InvestigateAction.CONTAINER, ":package: Container", value=value))
        elements.append(button(InvestigateAction.LOGS, ":scroll: Logs", value=value))
    vt_url = links.virustotal_url(record.script_sha256)
    if vt_url and vt_enabled:
        elements.append(
            button(InvestigateAction.VIRUSTOTAL, ":microscope: VirusTotal", value=value)
        )
    elif vt_url:
        elements.append(
            button(
                InvestigateAction.VIRUSTOTAL_LINK, "VirusTotal (link only, no API key)", url=vt_url
            )
        )
    if cut_scripts(record):
        elements.append(
            button(InvestigateAction.SCRIPT, ":page_facing_up: Full script", value=value)
        )
    if _has_mitre(record):
        elements.append(button(InvestigateAction.MITRE, ":dart: MITRE ATT&CK", value=value))
    return tuple(elements)


# -- related findings -------------------------------------------------------------------------


def build_related_reply(result: RelatedFindings, *, reused: bool = False) -> SlackMessage:
    """Return the related-findings answer."""
    window = f" within ±{_duration(result.window)} of the event" if result.window else ""
    count = result.total
    noun = "finding" if count == 1 else "findings"
    head = f":mag: *Related findings* on the same resource{window}: *{count}* other {noun}"
    lines = []
    findings = sorted(
        result.findings,
        key=lambda f: f.event_time.timestamp() if f.event_time else 0.0,
        reverse=True,
    )
    for finding in findings:
        when = slack_date(finding.event_time) if finding.event_time else "no event time"
        link = f" · <{finding.console_url}|open>" if finding.console_url else ""
        lines.append(
            f"• *{fit(finding.category, 150)[0]}* · {escape(finding.severity)} · "
            f"{escape(finding.state.title())} · {when} · {inline_code(finding.resource_label, 120)}"
            f"{link}"
        )
    hidden = count - len(findings)
    if hidden > 0:
        lines.append(f"…and {hidden} more in SCC (newest shown first).")
    if not findings:
        lines.append("None: this is the only finding on this resource in the window.")
    blocks = [section(InvestigateBlock.ANSWER, _join(head, lines))]
    if result.sha256:
        blocks.append(section(InvestigateBlock.DETAILS, _same_script_text(result)))
    notes = [f"SCC {inline_code(result.parent, 200)} filter {inline_code(result.filter, 600)}"]
    if reused:
        notes.append(REUSED_NOTE)
    blocks.append(context(InvestigateBlock.NOTE, notes))
    return SlackMessage(text=f"Related findings: {count} other {noun}", blocks=blocks)


def _same_script_text(result: RelatedFindings) -> str:
    short = inline_code(result.sha256[:16] + "…", 40)
    if not result.same_script:
        body = f":white_check_mark: *Same script elsewhere* ({short}): not seen on other resources."
        return body + (f"\n_{escape(result.same_script_note)}_" if result.same_script_note else "")
    count = len(result.same_script)
    noun = "resource" if count == 1 else "resources"
    head = f":rotating_light: *Same script elsewhere* ({short}): seen on {count} other {noun}"
    lines = []
    for seen in result.same_script:
        when = f" · {slack_date(seen.event_time)}" if seen.event_time else ""
        where = []
        if seen.slack_link:
            where.append(f"<{seen.slack_link}|alert>")
        if seen.console_url:
            where.append(f"<{seen.console_url}|SCC>")
        suffix = f" · {' · '.join(where)}" if where else ""
        lines.append(f"• {inline_code(seen.resource_label, 200)}{when}{suffix}")
    if result.same_script_note:
        lines.append(f"_{escape(result.same_script_note)}_")
    return _join(head, lines)


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
    blocks.extend(_field_sections(fields))
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
    blocks.append(section(InvestigateBlock.DETAILS, _fit_lines(detail)))
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
    blocks.extend(_field_sections(fields))
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
    blocks.append(section(InvestigateBlock.DETAILS, _fit_lines(detail)))
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


# -- VirusTotal -------------------------------------------------------------------------------


def build_virustotal_reply(report: VirusTotalReport, *, reused: bool = False) -> SlackMessage:
    """Return the VirusTotal verdict for the script hash."""
    digest = inline_code(report.sha256, 80)
    link = f" · <{report.url}|VirusTotal>" if report.url else ""
    if not report.known:
        head = f":microscope: *VirusTotal*: {digest} is *not known to VirusTotal*{link}"
        summary = "not known to VirusTotal"
        blocks: list[Block] = [section(InvestigateBlock.ANSWER, head)]
    else:
        engines = sum(count for _, count in report.stats)
        flagged = report.malicious
        emoji = ":red_circle:" if flagged else ":white_check_mark:"
        head = (
            f":microscope: *VirusTotal*: {digest}\n{emoji} *{flagged}* of {engines} engines "
            f"say malicious{link}"
        )
        summary = f"{flagged} of {engines} engines say malicious"
        fields = [f"*{escape(verdict.title())}*\n{count}" for verdict, count in report.stats]
        fields.append(
            f"*First seen*\n{slack_date(report.first_seen) if report.first_seen else '—'}"
        )
        fields.append(
            f"*Last analysis*\n{slack_date(report.last_analysis) if report.last_analysis else '—'}"
        )
        blocks = [section(InvestigateBlock.ANSWER, head), *_field_sections(fields)]
        if report.names:
            names = ", ".join(inline_code(name, 120) for name in report.names)
            blocks.append(section(InvestigateBlock.DETAILS, f"*Names*: {names}"))
    notes = []
    if report.partial:
        notes.append(
            ":warning: SCC hashed only the start of this script: VirusTotal knows files by "
            "their full hash, so *not known* proves nothing."
        )
    if reused:
        notes.append(REUSED_NOTE)
    if notes:
        blocks.append(context(InvestigateBlock.NOTE, notes))
    return SlackMessage(text=f"VirusTotal: {summary}", blocks=blocks)


# -- MITRE ATT&CK -----------------------------------------------------------------------------


def build_mitre_reply(record: FindingRecord) -> SlackMessage:
    """Return the finding's ATT&CK tactic (with what it means) and techniques."""
    attack = record.finding.mitre_attack
    lines = []
    if attack.primary_tactic:
        name = attack_enum_name(attack.primary_tactic)
        entry = mitre.tactic(name)
        meaning = mitre.tactic_description(name)
        line = f"*Tactic*: {attack_link(entry)}"
        if meaning:
            line += f"\n_The adversary is {escape(meaning)}._"
        lines.append(line)
    for label, names in (
        ("Techniques", attack.primary_techniques),
        ("Also", attack.additional_techniques),
    ):
        entries = [attack_link(mitre.technique(attack_enum_name(n))) for n in list(names)[:12]]
        if entries:
            lines.append(f"*{label}*: " + ", ".join(entries))
    if not lines:
        lines.append("SCC gave no ATT&amp;CK mapping for this finding.")
    body = ":dart: *MITRE ATT&amp;CK*\n" + "\n".join(lines)
    return SlackMessage(text="MITRE ATT&CK", blocks=[section(InvestigateBlock.ANSWER, body)])


def _has_mitre(record: FindingRecord) -> bool:
    attack = record.finding.mitre_attack
    return bool(attack.primary_tactic or attack.primary_techniques or attack.additional_techniques)


# -- full script ------------------------------------------------------------------------------


def build_script_comment(script: ScriptFile) -> str:
    """Return the comment posted with an uploaded script (bot-written, safe mrkdwn)."""
    comment = (
        f":page_facing_up: The whole script as SCC sent it ({len(script.contents):,} characters), "
        "as a file so nothing in it is rendered."
    )
    if script.partial_contents:
        comment += " SCC sent only the start of the script."
    return comment


def build_script_reused_reply() -> SlackMessage:
    """Return the reply to a second click after the script was uploaded."""
    body = ":page_facing_up: The full script was uploaded to this thread a moment ago."
    return SlackMessage(text="Full script already uploaded", blocks=[section(None, body)])


# -- errors -----------------------------------------------------------------------------------


def build_error_reply(message: str) -> SlackMessage:
    """Return a thread reply for a lookup that failed; ``message`` is already safe mrkdwn."""
    return SlackMessage(
        text=message[:300],
        blocks=[section(InvestigateBlock.ANSWER, message[:SECTION_LIMIT])],
    )


# -- helpers ----------------------------------------------------------------------------------


def _join(head: str, lines: list[str]) -> str:
    return _fit_lines([head, *lines])


def _fit_lines(lines: list[str]) -> str:
    """Join whole lines up to Slack's section limit, never cutting one (links stay whole)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > SECTION_LIMIT - 20:
            kept.append("…(more not shown)")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def _field_sections(fields: list[str]) -> list[Block]:
    fitted = [f if len(f) <= FIELD_LIMIT else f[: FIELD_LIMIT - 1] + "…" for f in fields]
    return [fields_section(None, fitted[i : i + 10]) for i in range(0, len(fitted), 10)]


def _notes(console_url: str, label: str, reused: bool) -> list[str]:
    notes = [f"<{console_url}|Open in {label}>"] if console_url else []
    if reused:
        notes.append(REUSED_NOTE)
    return notes or ["—"]


def _duration(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
