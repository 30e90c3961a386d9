"""Build the investigation buttons and the replies about the finding itself in its thread.

Holds the buttons, the related-findings, VirusTotal, MITRE ATT&CK, full-script and error
replies, and the section helpers every investigation reply shares. The Container and Logs
replies, about the Cloud Run workload, live in blocks.investigate_cloud_run.

Pure: takes the typed lookup results from bot.investigate and returns Slack messages. Every
value from a finding or an API answer (names, hashes, script names) passes blocks.text; links
come from bot.links or are checked console links.
"""

from __future__ import annotations

from datetime import timedelta

from blocks.finding import attack_enum_name, attack_link, slack_date
from blocks.ids import InvestigateAction, InvestigateBlock
from blocks.slack import Block, SlackMessage, button, context, fields_section, section
from blocks.text import escape, fit, inline_code
from bot import links, mitre
from bot.finding import FindingRecord
from bot.investigate.related import RelatedFindings
from bot.investigate.script import ScriptFile, cut_scripts
from bot.investigate.virustotal import VirusTotalReport
from bot.refs import finding_ref

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
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
        blocks = [section(InvestigateBlock.ANSWER, head), *field_sections(fields)]
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
    return fit_lines([head, *lines])


def fit_lines(lines: list[str]) -> str:
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


def field_sections(fields: list[str]) -> list[Block]:
    """Return fields sections of at most ten fields each, every field cut to Slack's limit."""
    fitted = [f if len(f) <= FIELD_LIMIT else f[: FIELD_LIMIT - 1] + "…" for f in fields]
    return [fields_section(None, fitted[i : i + 10]) for i in range(0, len(fitted), 10)]


def _duration(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
