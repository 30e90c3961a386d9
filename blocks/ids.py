"""Every block, action and callback id the bot uses, one string enum per surface.

Ids are namespaced by surface so that a listener matches exactly the element it serves.
"""

from __future__ import annotations

from enum import StrEnum


class FindingBlock(StrEnum):
    HEADER = "finding.header"
    SUMMARY = "finding.summary"
    PROCESS = "finding.process"
    SCRIPT = "finding.script"
    HASH = "finding.hash"
    CONNECTION = "finding.connection"
    INDICATOR = "finding.indicator"
    FILES = "finding.files"
    MITRE = "finding.mitre"
    SPREAD = "finding.spread"
    PLAYBOOK = "finding.playbook"
    LINKS = "finding.links"
    INVESTIGATE = "finding.investigate"
    FOOTER = "finding.footer"
    NOTICE = "finding.notice"


class FindingAction(StrEnum):
    OPEN_CONSOLE = "finding.open_console"
    OPEN_LOGS = "finding.open_logs"
    OPEN_RUN = "finding.open_run"
    OPEN_VIRUSTOTAL = "finding.open_virustotal"
