"""Investigation builders as plain functions: buttons and each reply's key fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from blocks.ids import InvestigateAction
from blocks.investigate import (
    build_error_reply,
    build_investigation_actions,
    build_mitre_reply,
    build_related_reply,
    build_virustotal_reply,
)
from blocks.investigate_cloud_run import build_logs_reply
from bot.finding import parse_notification
from bot.investigate.logs import LogLine, LogsResult
from bot.investigate.related import RelatedFinding, RelatedFindings, SameScript
from bot.investigate.virustotal import VirusTotalReport
from bot.refs import FindingRef
from tests.conftest import sample_bytes
from tests.slack_safety import code_fences_balanced, live_tokens

SHA = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"
EVENT = datetime(2026, 5, 12, 10, 14, 7, tzinfo=UTC)


def ids(elements: tuple[dict, ...]) -> list[str]:
    return [e["action_id"] for e in elements]


def test_buttons_with_a_virustotal_key() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    elements = build_investigation_actions(record, vt_enabled=True)
    assert ids(elements) == [
        InvestigateAction.RELATED,
        InvestigateAction.CONTAINER,
        InvestigateAction.LOGS,
        InvestigateAction.VIRUSTOTAL,
        InvestigateAction.MITRE,
    ]
    assert FindingRef.decode(elements[0]["value"]).finding == record.key


def test_without_a_key_the_virustotal_button_is_a_labelled_link() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    [vt] = [e for e in build_investigation_actions(record, vt_enabled=False) if "url" in e]
    assert vt["action_id"] == InvestigateAction.VIRUSTOTAL_LINK
    assert vt["url"] == f"https://www.virustotal.com/gui/file/{SHA}"
    assert "no API key" in vt["text"]["text"]
    assert "value" not in vt


def test_full_script_button_only_when_the_preview_was_cut() -> None:
    hostile = parse_notification(sample_bytes("hostile_v2.json"))
    assert InvestigateAction.SCRIPT in ids(build_investigation_actions(hostile, vt_enabled=True))
    short = parse_notification(sample_bytes("malicious_python_v2.json"))
    assert InvestigateAction.SCRIPT not in ids(build_investigation_actions(short, vt_enabled=True))


def test_no_run_buttons_for_a_finding_without_cloud_run_resource() -> None:
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    document["finding"]["resourceName"] = "//compute.googleapis.com/projects/p/zones/z/instances/i"
    document["resource"]["name"] = document["finding"]["resourceName"]
    record = parse_notification(json.dumps(document))
    found = ids(build_investigation_actions(record, vt_enabled=True))
    assert InvestigateAction.CONTAINER not in found and InvestigateAction.LOGS not in found
    assert InvestigateAction.RELATED in found


def _related(total: int, count: int) -> RelatedFindings:
    findings = tuple(
        RelatedFinding(
            name=f"organizations/1/sources/2/locations/global/findings/f{i}",
            category="<!channel> Reverse Shell" if i == 0 else f"Category {i}",
            severity="HIGH",
            state="ACTIVE",
            event_time=EVENT - timedelta(minutes=i),
            resource_label="service payments-api in acme-prod",
            console_url=f"https://console.cloud.google.com/security/command-center/findingsv2;name=f{i}",
        )
        for i in range(count)
    )
    return RelatedFindings(
        parent="organizations/1/sources/-/locations/global",
        filter='resource_name="x"',
        window=timedelta(hours=1),
        findings=findings,
        total=total,
        sha256=SHA,
        same_script=(
            SameScript("service billing-api in acme-prod", "r", EVENT, "", "", source="scc"),
        ),
    )


def test_related_reply_counts_and_says_more() -> None:
    message = build_related_reply(_related(total=25, count=10), reused=True)
    body = json.dumps(message.blocks, ensure_ascii=False)
    assert "*25* other findings" in body
    assert "within ±1 h" in body
    assert "and 15 more in SCC" in body
    assert "&lt;!channel&gt; Reverse Shell" in body
    assert "seen on 1 other resource" in body
    assert "Same answer as a moment ago" in body
    assert live_tokens(message.text, message.blocks) == []


def test_related_reply_when_alone() -> None:
    body = json.dumps(build_related_reply(_related(total=0, count=0)).blocks, ensure_ascii=False)
    assert "*0* other findings" in body and "the only finding" in body


def _logs(lines: list[str]) -> LogsResult:
    from bot.resources import CloudRunTarget, RunKind

    target = CloudRunTarget(
        RunKind.SERVICE, "acme-prod", "us-central1", "payments-api", revision="payments-api-1"
    )
    return LogsResult(
        target=target,
        query="q",
        start=EVENT - timedelta(minutes=10),
        end=EVENT + timedelta(minutes=10),
        lines=tuple(LogLine(EVENT, "ERROR", text) for text in lines),
        more=True,
        explorer_url="https://console.cloud.google.com/logs/query;query=q",
        own_log_url="",
    )


def test_log_lines_stay_inside_one_code_block() -> None:
    hostile = "```\n<!here> <https://evil.example|x> &amp; " + "A" * 5000
    message = build_logs_reply(_logs([hostile] * 20))
    code = message.blocks[1]["text"]["text"]
    assert code.startswith("```") and code.endswith("```") and code.count("```") == 2
    assert len(code) <= 3000
    assert "&lt;!here&gt;" in code and "⏎" in code
    assert code_fences_balanced(message.blocks)
    assert live_tokens(message.text, message.blocks) == []


def test_virustotal_reply_for_known_and_unknown_files() -> None:
    known = VirusTotalReport(
        SHA,
        True,
        (("malicious", 3), ("undetected", 60)),
        ("a.py",),
        EVENT,
        EVENT,
        partial=False,
        url=f"https://www.virustotal.com/gui/file/{SHA}",
    )
    body = json.dumps(build_virustotal_reply(known).blocks)
    assert "*3* of 63 engines say malicious" in body
    unknown = VirusTotalReport(SHA, False, (), (), None, None, partial=True, url="")
    body = json.dumps(build_virustotal_reply(unknown).blocks)
    assert "not known to VirusTotal" in body
    assert "hashed only the start" in body


def test_mitre_reply_links_tactic_and_techniques() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    body = json.dumps(build_mitre_reply(record).blocks)
    assert "Execution (TA0002)" in body and "trying to run malicious code" in body
    assert "Python (T1059.006)" in body and "Ingress Tool Transfer (T1105)" in body


def test_error_reply_keeps_the_message() -> None:
    message = build_error_reply(":no_entry: The bot may not x. Grant its service account `r`.")
    assert message.blocks[0]["text"]["text"].endswith("`r`.")
