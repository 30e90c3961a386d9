"""Build the Slack message that announces one SCC finding.

Pure: takes a FindingRecord and what the bot knows about it, returns text and blocks. Every
value taken from the finding passes blocks.text before it reaches Slack; the only links are
built by bot.links from validated values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.cloud import securitycenter_v2 as scc

from blocks import playbook
from blocks.ids import FindingAction, FindingBlock
from blocks.slack import Block, SlackMessage, button, context, fields_section, header, section
from blocks.text import defang, escape, fit, inline_code, plain, text
from bot import links, mitre
from bot.finding import FindingRecord, enum_name
from bot.resources import CloudRunTarget, RunKind
from bot.severity import Severity

# Slack's documented limits (https://api.slack.com/reference/block-kit/blocks).
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
FALLBACK_LIMIT = 300
# Lines and characters of script shown in the message; the rest stays one click away.
PREVIEW_LINES = 40
PREVIEW_CHARS = 2400
MAX_PROCESSES = 3

SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":white_circle:",
    Severity.SEVERITY_UNSPECIFIED: ":white_circle:",
}


@dataclass(frozen=True)
class MessageContext:
    """What the bot knows about a finding beyond the finding itself."""

    console_base: str = links.CONSOLE
    occurrences: int = 1
    last_seen: datetime | None = None
    # Other resources where the same script hash was seen: (label, link to its message).
    same_script_elsewhere: tuple[tuple[str, str], ...] = ()
    # Extra action elements (investigation and containment buttons) from other surfaces.
    actions: tuple[dict[str, Any], ...] = ()
    notices: tuple[str, ...] = field(default=())  # bot-written mrkdwn lines, already safe


def build_finding_message(record: FindingRecord, ctx: MessageContext | None = None) -> SlackMessage:
    """Return the interactive message for a finding."""
    ctx = ctx or MessageContext()
    finding = record.finding
    target = record.cloud_run
    blocks: list[Block] = [
        header(
            FindingBlock.HEADER,
            plain(
                f"{SEVERITY_EMOJI[record.severity]} {_severity_label(record)} · {record.category}",
                150,
            ),
        ),
        fields_section(FindingBlock.SUMMARY, _summary_fields(record, target, ctx)),
    ]
    if ctx.notices:
        blocks.append(context(FindingBlock.NOTICE, list(ctx.notices)))
    if finding.description:
        blocks.append(section(None, text(finding.description, 1000)))
    blocks.extend(_process_blocks(finding))
    blocks.extend(_connection_blocks(finding))
    blocks.extend(_indicator_blocks(finding))
    blocks.extend(_file_blocks(finding))
    mitre_block = _mitre_block(finding)
    if mitre_block:
        blocks.append(mitre_block)
    if ctx.same_script_elsewhere:
        blocks.append(_spread_block(ctx.same_script_elsewhere))
    blocks.append(section(FindingBlock.PLAYBOOK, playbook.first_steps(record.category, target)))
    blocks.append(_links_block(record, target, ctx))
    if ctx.actions:
        blocks.append(
            {"type": "actions", "block_id": FindingBlock.INVESTIGATE, "elements": list(ctx.actions)}
        )
    blocks.append(context(FindingBlock.FOOTER, _footer(record)))
    return SlackMessage(text=fallback_text(record), blocks=blocks)


def build_minimal_message(
    record: FindingRecord, *, console_base: str = links.CONSOLE
) -> SlackMessage:
    """Return a short message for a finding the full builder failed on: never lose one."""
    console = links.finding_console_url(
        record.key, organization_id=record.organization_id, base=console_base
    )
    lines = [f"*Finding* {inline_code(record.key, 400)}"]
    if console:
        lines.append(f"<{console}|Open in SCC>")
    lines.append(":warning: The bot could not show this finding in full; SCC has every field.")
    blocks = [
        header(FindingBlock.HEADER, plain(f"{_severity_label(record)} · {record.category}", 150)),
        section(FindingBlock.SUMMARY, "\n".join(lines)),
    ]
    return SlackMessage(text=fallback_text(record), blocks=blocks)


def _severity_label(record: FindingRecord) -> str:
    if record.severity is Severity.SEVERITY_UNSPECIFIED:
        return "Severity unknown"
    return str(record.severity)


def fallback_text(record: FindingRecord) -> str:
    """Return the short notification text: severity, category and where, never the script."""
    target = record.cloud_run
    where = target.label if target else (record.resource.display_name or record.resource_name)
    project = record.project_display_name or (target.project if target else "")
    summary = f"{_severity_label(record)} {record.category} on {where}"
    if project:
        summary += f" ({project})"
    body, _ = fit(defang(summary), FALLBACK_LIMIT)
    return body


def slack_date(moment: datetime) -> str:
    """Return a date token Slack shows in each reader's own time zone."""
    fallback = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def _summary_fields(
    record: FindingRecord, target: CloudRunTarget | None, ctx: MessageContext
) -> list[str]:
    fields = [f"*Resource*\n{_resource_text(record, target)}"]
    project = record.project_display_name or (target.project if target else "")
    if project or record.project_number:
        number = f" ({inline_code(record.project_number, 40)})" if record.project_number else ""
        fields.append(f"*Project*\n{inline_code(project, 120) if project else '—'}{number}")
    if record.event_time:
        seen = f"*Event time*\n{slack_date(record.event_time)}"
        if ctx.occurrences > 1 and ctx.last_seen:
            seen += f"\nseen {ctx.occurrences} times, last {slack_date(ctx.last_seen)}"
        fields.append(seen)
    state = f"*State*\n{record.state.title()}"
    if record.mute == "MUTED":
        state += " · muted"
    fields.append(state)
    source = record.finding.parent_display_name
    if source:
        fields.append(f"*Detected by*\n{text(source, 200)}")
    location = target.location if target else record.resource.location
    if location:
        fields.append(f"*Location*\n{inline_code(location, 60)}")
    return fields


def _resource_text(record: FindingRecord, target: CloudRunTarget | None) -> str:
    if target is None:
        name = record.resource.display_name or record.resource_name or "unknown"
        kind = record.resource.type_
        suffix = f"\n{inline_code(kind, 100)}" if kind else ""
        return f"{inline_code(name, 300)}{suffix}"
    lines = [f"Cloud Run {target.kind.value} {inline_code(target.name, 80)}"]
    if target.kind is RunKind.SERVICE and target.revision:
        lines.append(f"revision {inline_code(target.revision, 80)}")
    if target.kind is RunKind.JOB and target.execution:
        lines.append(f"execution {inline_code(target.execution, 80)}")
    return "\n".join(lines)


def _process_blocks(finding: scc.Finding) -> list[Block]:
    blocks: list[Block] = []
    for index, process in enumerate(finding.processes[:MAX_PROCESSES]):
        suffix = f".{index}" if index else ""
        blocks.append(section(f"{FindingBlock.PROCESS}{suffix}", _process_text(process)))
        if process.script.contents:
            blocks.append(section(f"{FindingBlock.SCRIPT}{suffix}", _script_text(process.script)))
        hashed = process.script if process.script.sha256 else process.binary
        if hashed.sha256:
            label = "Script" if hashed is process.script else "Program"
            blocks.append(section(f"{FindingBlock.HASH}{suffix}", _hash_text(label, hashed)))
    hidden = len(finding.processes) - MAX_PROCESSES
    if hidden > 0:
        blocks.append(context(None, [f"{hidden} more process(es) in the finding, not shown."]))
    return blocks


def _process_text(process: scc.Process) -> str:
    lines = []
    if process.binary.path:
        lines.append(f"*Program* {inline_code(process.binary.path)}")
    if process.script.path:
        lines.append(f"*Script* {inline_code(process.script.path)}")
    elif _is_inline_code(process):
        lines.append("*Script* inline code passed with `-c` (no file on disk)")
    if process.args:
        joined, cut = fit(" ".join(process.args), 1200)
        arguments = f"*Arguments* ```{joined}```"
        if cut or process.arguments_truncated:
            arguments += "\n_arguments truncated" + (" by SCC_" if not cut else "_")
        lines.append(arguments)
    if process.pid:
        lines.append(f"PID {int(process.pid)} · parent {int(process.parent_pid)}")
    return "\n".join(lines) or "Process details not provided."


def _is_inline_code(process: scc.Process) -> bool:
    return any(
        arg == "-c" or (arg.startswith("-") and arg.endswith("c")) for arg in process.args[1:3]
    )


def _script_text(script: scc.File) -> str:
    contents = script.contents
    lines = contents.splitlines()
    shown_lines = "\n".join(lines[:PREVIEW_LINES])
    body, cut = fit(shown_lines, PREVIEW_CHARS, code=True)
    cut = cut or len(lines) > PREVIEW_LINES
    notes = []
    if cut:
        notes.append(
            f"preview of {len(contents):,} characters / {len(lines):,} lines; "
            "the full contents are one click away (Full script)"
        )
    if script.size and len(contents.encode()) < int(script.size):
        notes.append(
            f"SCC sent {len(contents.encode()):,} of the script's {int(script.size):,} bytes"
        )
    note = f"\n_{'; '.join(notes)}_" if notes else ""
    return f"*Script contents*\n```{body}```{note}"


def _hash_text(label: str, hashed: scc.File) -> str:
    digest = hashed.sha256
    vt = links.virustotal_url(digest)
    line = f"*{label} SHA-256* {inline_code(digest, 80)}"
    if vt:
        line += f" · <{vt}|VirusTotal>"
    if hashed.partially_hashed:
        line += (
            f"\n:warning: SCC hashed only the first {int(hashed.hashed_size):,} of "
            f"{int(hashed.size):,} bytes. VirusTotal knows files by their full hash, "
            "so no match there proves nothing."
        )
    return line


def _connection_blocks(finding: scc.Finding) -> list[Block]:
    lines = []
    for connection in finding.connections[:5]:
        protocol = enum_name(scc.Connection.Protocol, connection.protocol)
        protocol = protocol.replace("PROTOCOL_", "")
        lines.append(
            f"{inline_code(f'{connection.source_ip}:{connection.source_port}', 60)} → "
            f"{inline_code(f'{connection.destination_ip}:{connection.destination_port}', 60)}"
            f" ({escape(protocol)})"
        )
    if not lines:
        props = finding.source_properties
        destination = props.get("Reverse_Shell_Stdin_Redirection_Dst_Ip")
        if destination is not None:
            port = props.get("Reverse_Shell_Stdin_Redirection_Dst_Port", "?")
            lines.append(f"→ {inline_code(f'{destination}:{port}', 80)}")
    if not lines:
        return []
    return [section(FindingBlock.CONNECTION, "*Connection*\n" + "\n".join(lines))]


def _indicator_blocks(finding: scc.Finding) -> list[Block]:
    indicator = finding.indicator
    lines = []
    for label, values in (
        ("URL", indicator.uris),
        ("Domain", indicator.domains),
        ("IP", indicator.ip_addresses),
    ):
        for value in list(values)[:5]:
            lines.append(f"{label} {inline_code(defang(value), 200)}")
    if not lines:
        return []
    return [section(FindingBlock.INDICATOR, "*Indicators* (defanged)\n" + "\n".join(lines))]


def _file_blocks(finding: scc.Finding) -> list[Block]:
    lines = []
    for file in finding.files[:5]:
        line = inline_code(file.path or file.disk_path.relative_path or "(no path)")
        vt = links.virustotal_url(file.sha256)
        if file.sha256:
            line += f"\nSHA-256 {inline_code(file.sha256, 80)}"
            if vt:
                line += f" · <{vt}|VirusTotal>"
            if file.partially_hashed:
                line += f" (first {int(file.hashed_size):,} of {int(file.size):,} bytes hashed)"
        lines.append(line)
    if not lines:
        return []
    return [section(FindingBlock.FILES, "*Files*\n" + "\n".join(lines))]


def _mitre_block(finding: scc.Finding) -> Block | None:
    attack = finding.mitre_attack
    parts = []
    if attack.primary_tactic:
        parts.append(
            "Tactic: " + attack_link(mitre.tactic(attack_enum_name(attack.primary_tactic)))
        )
    names = [*attack.primary_techniques, *attack.additional_techniques]
    if names:
        techniques = [attack_link(mitre.technique(attack_enum_name(name))) for name in names[:12]]
        parts.append("Techniques: " + ", ".join(techniques))
    if not parts:
        return None
    return section(FindingBlock.MITRE, "*MITRE ATT&amp;CK*\n" + "\n".join(parts))


def attack_enum_name(value: Any) -> str:
    """Return a MITRE enum value's name, or ``UNKNOWN_<n>`` for one this library lacks."""
    try:
        return str(value.name)
    except AttributeError:
        return f"UNKNOWN_{int(value)}"


def attack_link(entry: mitre.AttackEntry) -> str:
    """Return a tactic or technique as an ATT&CK link, or its plain title when unknown."""
    title = escape(entry.title)
    if entry.url:
        return f"<{entry.url}|{title} ({entry.attack_id})>"
    return title


def _spread_block(elsewhere: tuple[tuple[str, str], ...]) -> Block:
    shown = []
    for label, url in elsewhere[:5]:
        shown.append(f"<{url}|{escape(label)}>" if url else escape(label))
    count = len(elsewhere)
    noun = "resource" if count == 1 else "resources"
    return section(
        FindingBlock.SPREAD,
        f":rotating_light: *Same script seen on {count} other {noun}*: " + ", ".join(shown),
    )


def _links_block(
    record: FindingRecord, target: CloudRunTarget | None, ctx: MessageContext
) -> Block:
    elements = []
    console = links.finding_console_url(
        record.key, organization_id=record.organization_id, base=ctx.console_base
    )
    if console:
        elements.append(button(FindingAction.OPEN_CONSOLE, "Open in SCC", url=console))
    if target:
        logs = links.logs_explorer_url(target, around=record.event_time, base=ctx.console_base)
        elements.append(button(FindingAction.OPEN_LOGS, "Logs", url=logs))
        elements.append(
            button(
                FindingAction.OPEN_RUN,
                "Cloud Run",
                url=links.run_console_url(target, base=ctx.console_base),
            )
        )
    vt = links.virustotal_url(record.script_sha256)
    if vt:
        elements.append(button(FindingAction.OPEN_VIRUSTOTAL, "VirusTotal", url=vt))
    if not elements:
        return context(
            FindingBlock.LINKS, ["No console links: the finding names no known resource."]
        )
    return {"type": "actions", "block_id": FindingBlock.LINKS, "elements": elements}


def _footer(record: FindingRecord) -> list[str]:
    parts = [f"Finding {inline_code(record.key, 400)}"]
    if record.deleted:
        parts.append(":wastebasket: SCC reports this finding as deleted.")
    if record.unreadable_fields:
        names = ", ".join(record.unreadable_fields[:10])
        parts.append(f":warning: Fields SCC sent that could not be read: {inline_code(names, 400)}")
    return parts
