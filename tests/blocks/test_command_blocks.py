from __future__ import annotations

import json
from datetime import UTC, datetime

from blocks.commands import (
    ListedFinding,
    build_help,
    build_list_page,
    build_notice,
    build_show,
    shared_by_notice,
)
from blocks.finding import MessageContext
from blocks.home import HomeData, HomeFinding, HomeRequest, build_home, build_home_denied
from blocks.ids import CommandAction, CommandBlock, FindingBlock, HomeBlock
from bot.finding import parse_notification
from bot.refs import finding_ref
from bot.severity import Severity
from standins.block_kit import validate_blocks
from tests.conftest import sample_bytes
from tests.slack_safety import live_tokens

NOW = datetime(2026, 5, 13, 9, 0, tzinfo=UTC)
PERMALINK = "https://example.slack.com/archives/C0SECURITY/p1778580900000100"


def _by_id(blocks: list[dict]) -> dict[str, dict]:
    return {block["block_id"]: block for block in blocks if "block_id" in block}


def test_help_lists_every_subcommand_with_examples() -> None:
    message = build_help("/secops")

    text = _by_id(message.blocks)[CommandBlock.HELP]["text"]["text"]
    for usage in ("/secops show <finding>", "/secops list [severity=…]", "/secops help"):
        assert f"*`{usage}" in text
    assert "`/secops list category=Reverse Shell project=acme-prod`" in text
    assert CommandBlock.NOTICE not in _by_id(message.blocks)
    assert validate_blocks(message.blocks, "message") == []


def test_show_appends_a_share_button_to_the_finding_message() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    extra = {
        "type": "button",
        "action_id": "investigate.logs",
        "text": {"type": "plain_text", "text": "x"},
    }

    message = build_show(
        record, MessageContext(actions=(extra,)), share_value=finding_ref(record.key)
    )

    blocks = _by_id(message.blocks)
    assert blocks[FindingBlock.INVESTIGATE]["elements"] == [extra]
    share = blocks[CommandBlock.SHARE]["elements"][0]
    assert (share["action_id"], share["value"]) == (CommandAction.SHARE, finding_ref(record.key))
    assert message.blocks[-1]["block_id"] == CommandBlock.SHARE
    assert validate_blocks(message.blocks, "message") == []


def test_shared_by_notice_mentions_only_a_real_user_id() -> None:
    assert shared_by_notice("U0ALICE") == ":mega: Shared by <@U0ALICE>"
    assert shared_by_notice("<!channel>") == ":mega: Shared from a lookup"


def test_list_page_links_posted_findings_to_their_message_and_others_to_the_console() -> None:
    python = parse_notification(sample_bytes("malicious_python_v2.json"))
    hostile = parse_notification(sample_bytes("hostile_v2.json"))
    items = [
        ListedFinding(python, PERMALINK, posted=True),
        ListedFinding(hostile, "https://console.cloud.google.com/security/x", posted=False),
    ]

    message = build_list_page(
        items, description="state=ACTIVE", total=12, first=11, more_value='{"t":"abc"}'
    )

    blocks = _by_id(message.blocks)
    assert blocks[CommandBlock.LIST_HEADER]["text"]["text"] == (
        "*Findings 11–12* of 12 matching `state=ACTIVE`"
    )
    first = blocks[f"{CommandBlock.LIST_ITEMS}.11"]["text"]["text"]
    assert first.startswith(
        f":red_circle: *CRITICAL* <{PERMALINK}|Execution: Malicious Python executed> · "
        "service payments-api · `acme-prod` · <!date^1778580847^"
    )
    assert "opens the console" not in first
    second = blocks[f"{CommandBlock.LIST_ITEMS}.12"]["text"]["text"]
    assert "opens the console" in second
    more = blocks[CommandBlock.LIST_MORE]["elements"][0]
    assert (more["action_id"], more["value"]) == (CommandAction.MORE, '{"t":"abc"}')
    assert live_tokens(message.text, message.blocks) == []
    assert validate_blocks(message.blocks, "message") == []


def test_last_page_and_empty_list() -> None:
    record = parse_notification(sample_bytes("reverse_shell_v2.json"))

    last = build_list_page(
        [ListedFinding(record, "", posted=False)],
        description="severity=LOW",
        total=1,
        first=1,
        more_value=None,
    )
    empty = build_list_page([], description="<!here>", total=0, first=1, more_value=None)

    assert _by_id(last.blocks)[CommandBlock.LIST_MORE]["type"] == "context"
    assert "_(no link)_" in _by_id(last.blocks)[f"{CommandBlock.LIST_ITEMS}.1"]["text"]["text"]
    assert empty.blocks[0]["text"]["text"] == "No findings match `&lt;!here&gt;`."


def test_notice_keeps_the_first_line_as_notification_text() -> None:
    message = build_notice("first line\nsecond")

    assert message.text == "first line"
    assert message.blocks[0]["text"]["text"] == "first line\nsecond"


def _home_data() -> HomeData:
    return HomeData(
        counts={Severity.CRITICAL: 2, Severity.HIGH: 1},
        newest={
            Severity.CRITICAL: [
                HomeFinding(Severity.CRITICAL, "Reverse Shell", "payments-api", PERMALINK, NOW),
                HomeFinding(Severity.CRITICAL, "Added <!here> Binary|x", "job <@U1>", "", None),
            ]
        },
        pending=[HomeRequest("U0ALICE", "Roll back traffic", "projects/p/services/s", NOW)],
        recent=[
            HomeRequest(
                "U0ALICE",
                "Remove public access",
                "projects/p/services/s",
                NOW,
                status="done",
                decided_by="U0BOB",
            )
        ],
    )


def test_home_shows_counts_newest_pending_and_recent() -> None:
    view = build_home("U0BOB", _home_data(), can_approve=True, command="/scc", now=NOW)

    assert view["type"] == "home"
    blocks = _by_id(view["blocks"])
    assert [f["text"] for f in blocks[HomeBlock.COUNTS]["fields"]][:2] == [
        ":red_circle: *Critical*\n2",
        ":large_orange_circle: *High*\n1",
    ]
    newest = blocks[f"{HomeBlock.NEWEST}.critical"]["text"]["text"]
    assert f"• <{PERMALINK}|Reverse Shell> · `payments-api` · <!date^" in newest
    assert "• Added &lt;!here&gt; Binary¦x · `job &lt;@U1&gt;`" in newest
    pending = blocks[HomeBlock.PENDING]["text"]["text"]
    assert pending.startswith("• <@U0ALICE> asks to Roll back traffic on `projects/p/services/s`")
    assert pending.endswith("_you can approve_")
    recent = blocks[HomeBlock.ACTIONS]["text"]["text"]
    assert recent.startswith("• *done*: Remove public access on `projects/p/services/s` · <@U0BOB>")
    leftover = [t for t in live_tokens("", view["blocks"]) if t not in ("@U0ALICE", "@U0BOB")]
    assert leftover == []
    assert validate_blocks(view["blocks"], "home") == []


def test_home_without_a_containment_source_says_so() -> None:
    view = build_home("U0BOB", HomeData(), can_approve=False, command="/scc", now=NOW)

    blocks = _by_id(view["blocks"])
    assert blocks[HomeBlock.PENDING]["text"]["text"] == "_Containment requests are not available._"
    assert blocks[HomeBlock.ACTIONS]["text"]["text"] == "_Containment history is not available._"
    assert not any(block_id.startswith(HomeBlock.NEWEST) for block_id in blocks)


def test_home_requester_is_not_told_they_can_approve_their_own_request() -> None:
    view = build_home("U0ALICE", _home_data(), can_approve=True, command="/scc", now=NOW)

    assert "_you can approve_" not in _by_id(view["blocks"])[HomeBlock.PENDING]["text"]["text"]


def test_home_denied_shows_nothing_from_findings() -> None:
    view = build_home_denied("/scc")

    assert json.dumps(view).count("Findings are shown to the security team only") == 1
    assert validate_blocks(view["blocks"], "home") == []
