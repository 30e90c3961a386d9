"""The digest message that stands for a burst of findings, and its thread listings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from blocks.finding import SEVERITY_EMOJI, slack_date
from blocks.ids import DigestBlock
from blocks.slack import SlackMessage, context, fields_section, header, section
from blocks.text import inline_code, plain, text
from bot import links
from bot.severity import Severity

# Lines per section: each line carries a console link of ~200 characters, and a section
# holds 3,000; a reply of 100 findings is then 13 blocks, well under 50.
PER_SECTION = 8


@dataclass(frozen=True)
class DigestView:
    """What a digest message shows, read from the store."""

    resource_label: str
    category: str
    count: int
    first: datetime | None
    last: datetime | None
    scripts: tuple[tuple[str, int], ...]  # (sha256, findings), most frequent first
    distinct_scripts: int
    version: int


@dataclass(frozen=True)
class ListedFinding:
    """One grouped finding, as its digest's thread lists it."""

    key: str
    event_time: datetime | None
    severity: str
    sha256: str


def build_digest_message(view: DigestView) -> SlackMessage:
    """Return the digest: count, first and last time, and the distinct scripts."""
    noun = "finding" if view.count == 1 else "findings"
    title = f":rotating_light: Burst of {view.count:,} {noun} · {view.category}"
    fields = [
        f"*Resource*\n{inline_code(view.resource_label, 300)}",
        f"*Findings in this digest*\n{view.count:,}",
    ]
    if view.first:
        fields.append(f"*First*\n{slack_date(view.first)}")
    if view.last:
        fields.append(f"*Last*\n{slack_date(view.last)}")
    blocks = [
        header(DigestBlock.HEADER, plain(title, 150)),
        fields_section(DigestBlock.SUMMARY, fields),
    ]
    if view.scripts:
        lines = []
        for sha, count in view.scripts:
            vt = links.virustotal_url(sha)
            line = f"{inline_code(sha, 80)} × {count:,}"
            lines.append(f"{line} · <{vt}|VirusTotal>" if vt else line)
        more = view.distinct_scripts - len(view.scripts)
        if more > 0:
            lines.append(f"…and {more:,} more distinct scripts")
        blocks.append(
            section(
                DigestBlock.SCRIPTS,
                f"*Distinct scripts: {view.distinct_scripts:,}*\n" + "\n".join(lines),
            )
        )
    blocks.append(
        context(
            DigestBlock.FOOTER,
            [
                "Too many findings at once to post each: they are grouped here and listed "
                "in this thread. Each stays available with the slash command."
            ],
        )
    )
    summary = f"Burst: {view.count} findings of {view.category} on {view.resource_label}"
    return SlackMessage(text=text(summary, 300), blocks=blocks)


def build_digest_listing(items: list[ListedFinding], *, console_base: str) -> SlackMessage:
    """Return a thread reply listing grouped findings with links to the console."""
    lines = []
    for item in items:
        severity = Severity.parse(item.severity)
        url = links.finding_console_url(item.key, base=console_base)
        finding_id = item.key.rsplit("/", 1)[-1]
        name = f"<{url}|{text(finding_id, 64)}>" if url else inline_code(finding_id, 70)
        when = slack_date(item.event_time) if item.event_time else "time unknown"
        script = f" · script {inline_code(item.sha256[:12], 20)}" if item.sha256 else ""
        lines.append(f"{SEVERITY_EMOJI[severity]} {name} · {when}{script}")
    blocks = [
        section(None, "\n".join(lines[start : start + PER_SECTION]))
        for start in range(0, len(lines), PER_SECTION)
    ]
    return SlackMessage(text=f"{len(items)} findings in this burst", blocks=blocks)
