"""The full script SCC sent, for when the message could show only a preview."""

from __future__ import annotations

import re
from dataclasses import dataclass

from blocks.finding import MAX_PROCESSES, PREVIEW_CHARS, PREVIEW_LINES
from blocks.text import fit
from bot.finding import FindingRecord

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._\-]+")


@dataclass(frozen=True)
class ScriptFile:
    """One script to upload as a file."""

    filename: str
    title: str
    contents: str
    sha256: str
    partial_contents: bool  # SCC sent fewer bytes than the script has


def preview_was_cut(contents: str) -> bool:
    """Return whether the finding message shows only part of these contents."""
    lines = contents.splitlines()
    _, cut = fit("\n".join(lines[:PREVIEW_LINES]), PREVIEW_CHARS, code=True)
    return cut or len(lines) > PREVIEW_LINES


def cut_scripts(record: FindingRecord) -> tuple[ScriptFile, ...]:
    """Return the scripts whose preview in the message was cut."""
    found = []
    for index, process in enumerate(record.finding.processes[:MAX_PROCESSES]):
        script = process.script
        if not script.contents or not preview_was_cut(script.contents):
            continue
        base = _SAFE_NAME.sub("_", script.path.rsplit("/", 1)[-1]).strip("._")[:60] or "script"
        found.append(
            ScriptFile(
                # .txt keeps Slack from treating it as anything but text.
                filename=f"{base}.{index}.txt" if index else f"{base}.txt",
                title=f"Full script {base}"[:120],
                contents=script.contents,
                sha256=script.sha256,
                partial_contents=bool(script.size)
                and len(script.contents.encode()) < int(script.size),
            )
        )
    return tuple(found)
