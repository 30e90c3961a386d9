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


class ContainAction(StrEnum):
    OPEN = "contain.open"
    APPROVE = "contain.approve"
    REJECT = "contain.reject"
    UNDO = "contain.undo"
    SCC_MUTE = "contain.scc_mute"
    SCC_RESOLVE = "contain.scc_resolve"
    SCC_MARKS = "contain.scc_marks"
    # Elements inside the modal.
    CHOOSE = "contain.choose"
    REASON = "contain.reason"


class ContainBlock(StrEnum):
    ACTIONS = "contain.actions"
    REASON = "contain.reason"
    PLAN = "contain.plan"
    REQUEST = "contain.request"
    DECISION = "contain.decision"
    OUTCOME = "contain.outcome"


class ContainCallback(StrEnum):
    MODAL = "contain.modal"


class InvestigateAction(StrEnum):
    RELATED = "investigate.related"
    CONTAINER = "investigate.container"
    LOGS = "investigate.logs"
    VIRUSTOTAL = "investigate.virustotal"
    VIRUSTOTAL_LINK = "investigate.virustotal_link"
    SCRIPT = "investigate.script"
    MITRE = "investigate.mitre"


class InvestigateBlock(StrEnum):
    ANSWER = "investigate.answer"
    DETAILS = "investigate.details"
    LINES = "investigate.lines"
    NOTE = "investigate.note"


class CommandBlock(StrEnum):
    HELP = "command.help"
    SHARE = "command.share"
    LIST_HEADER = "command.list_header"
    LIST_ITEMS = "command.list_items"
    LIST_MORE = "command.list_more"
    NOTICE = "command.notice"


class CommandAction(StrEnum):
    SHARE = "command.share"
    MORE = "command.more"


class HomeBlock(StrEnum):
    HEADER = "home.header"
    COUNTS = "home.counts"
    NEWEST = "home.newest"
    PENDING_HEADER = "home.pending_header"
    PENDING = "home.pending"
    ACTIONS_HEADER = "home.actions_header"
    ACTIONS = "home.actions"
    FOOTER = "home.footer"
    DENIED = "home.denied"


class DigestBlock(StrEnum):
    HEADER = "digest.header"
    SUMMARY = "digest.summary"
    SCRIPTS = "digest.scripts"
    FOOTER = "digest.footer"
