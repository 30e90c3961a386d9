"""Investigation buttons end to end: signed clicks in, stand-in requests and thread replies out."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc
import pytest
from google.cloud import securitycenter_v2 as scc
from google.cloud.logging_v2 import types as logging_types

from blocks.ids import FindingBlock, InvestigateAction
from bot.pipeline import Delivery
from bot.refs import finding_ref
from standins import cloud_run_sample
from standins.virustotal import VirusTotalStandIn
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import code_fences_balanced, live_tokens

USER = "U0RESPONDER"
VT_KEY = "vt-test-key"
ORG = "organizations/123456789012"
KEY = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)
HOSTILE_KEY = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "hostilebeefdeadbeef"
)
SHA = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"
SERVICE = "projects/acme-prod/locations/us-central1/services/payments-api"
RESOURCE = f"//run.googleapis.com/{SERVICE}"


@pytest.fixture
def vt_api() -> Any:
    with VirusTotalStandIn(api_key=VT_KEY) as standin:
        yield standin


@pytest.fixture
def settings_overrides(google_settings: dict[str, Any], vt_api: Any) -> dict[str, Any]:
    return {**google_settings, "vt_api_key": VT_KEY, "vt_api_url": vt_api.url}


def post_finding(services: Any, slack: Any, raw: bytes, message_id: str = "m1") -> str:
    """Run a notification through the pipeline; return the posted message's ts."""
    before = len(slack.calls_to("chat.postMessage", ok=True))
    services.pipeline.handle(Delivery(data=raw, message_id=message_id))
    calls = slack.calls_to("chat.postMessage", ok=True)
    assert len(calls) == before + 1
    return str(calls[-1].response["ts"])


def variant(sample: str, **changes: Any) -> bytes:
    """Return a bundled sample with its finding changed (a different id, dropped hints…)."""
    document = json.loads(sample_bytes(sample))
    finding = document["finding"]
    for key, value in changes.items():
        if value is None:
            finding.pop(key, None)
        else:
            finding[key] = value
    return json.dumps(document).encode()


def click(slack_requests: Any, action: str, key: str, ts: str) -> None:
    response = slack_requests.block_action(
        user=USER, action_id=action, value=finding_ref(key), channel=CHANNEL, message_ts=ts
    )
    assert response.status_code == 200


def replies(slack: Any, ts: str) -> list[Any]:
    return [
        c for c in slack.calls_to("chat.postMessage", ok=True) if c.params.get("thread_ts") == ts
    ]


def wait_reply(slack: Any, ts: str, count: int = 1) -> dict[str, Any]:
    slack.wait_for(lambda: len(replies(slack, ts)) >= count)
    params: dict[str, Any] = replies(slack, ts)[count - 1].params
    assert live_tokens(params["text"], params["blocks"]) == []
    assert code_fences_balanced(params["blocks"])
    assert params["unfurl_links"] in (False, "false", "0")
    return params


def shown(params: dict[str, Any]) -> str:
    return json.dumps(params["blocks"], ensure_ascii=False)


@pytest.fixture
def ts(slack_requests: Any, services: Any, slack: Any) -> str:
    # slack_requests starts the app, so the investigation buttons are registered first.
    return post_finding(services, slack, sample_bytes("malicious_python_v2.json"))


def test_finding_message_carries_the_buttons(ts: str, slack: Any) -> None:
    message = slack.calls_to("chat.postMessage", ok=True)[0].params
    actions = next(b for b in message["blocks"] if b.get("block_id") == FindingBlock.INVESTIGATE)
    ids = [e["action_id"] for e in actions["elements"]]
    for action in (
        InvestigateAction.RELATED,
        InvestigateAction.CONTAINER,
        InvestigateAction.LOGS,
        InvestigateAction.VIRUSTOTAL,
        InvestigateAction.MITRE,
    ):
        assert action in ids
    # The sample script fits the preview, so there is no Full script button.
    assert InvestigateAction.SCRIPT not in ids


def test_related_lists_same_resource_findings_newest_first(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    reply = wait_reply(slack, ts)

    first = scc_standin.requests_to("ListFindings")[0]
    assert first.parent == f"{ORG}/sources/-/locations/global"
    assert first.filter == (
        f'(resource_name="{RESOURCE}" OR resource_name:"{RESOURCE}/") AND '
        'event_time >= "2026-05-12T09:14:07.512Z" AND event_time <= "2026-05-12T11:14:07.512Z" '
        f'AND -name="{KEY}"'
    )
    assert first.order_by == "event_time desc"
    assert first.page_size == 10
    body = shown(reply)
    # Reverse shell (10:21) and the hostile copy (10:14) are within an hour; 12:40 and 13:05 not.
    assert "*2* other findings" in body
    assert "Reverse Shell" in body
    assert "Added Binary" not in body and "Malicious URL" not in body
    assert body.index("Reverse Shell") < body.index("Malicious Python executed &lt;!here&gt;")
    assert "23eeeb4347bdd26bfc6b7ee9a3b755dd" not in body.split("filter")[0]
    assert "Critical" in body or "CRITICAL" in body


def test_related_reports_the_same_script_elsewhere(
    slack_requests: Any, services: Any, slack: Any, scc_standin: Any
) -> None:
    # Another service ran the same script: one the bot posted, one only SCC knows.
    billing = variant(
        "malicious_python_v2.json",
        name=KEY.replace("23eeeb4347bdd26bfc6b7ee9a3b755dd", "billing0001"),
        resourceName=RESOURCE.replace("payments-api", "billing-api"),
        canonicalName=None,
    )
    post_finding(services, slack, billing, "m0")
    other = scc.NotificationMessage.from_json(
        variant(
            "malicious_python_v2.json",
            name=KEY.replace("23eeeb4347bdd26bfc6b7ee9a3b755dd", "ledger0001"),
            resourceName=RESOURCE.replace("payments-api", "ledger"),
            eventTime="2026-05-10T08:00:00Z",
        ).decode(),
        ignore_unknown_fields=True,
    )
    scc_standin.add_finding(other.finding, scc.Resource(name=other.finding.resource_name))
    ts = post_finding(services, slack, sample_bytes("malicious_python_v2.json"))

    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    reply = wait_reply(slack, ts)

    script_query = scc_standin.requests_to("ListFindings")[1]
    assert script_query.parent == f"{ORG}/sources/-/locations/global"
    # Seven days back from the event time.
    assert script_query.filter == (
        f'processes.script.sha256="{SHA}" AND event_time >= "2026-05-05T10:14:07.512Z"'
    )
    body = shown(reply)
    assert "seen on 2 other resources" in body
    assert "service billing-api" in body and "service ledger in acme-prod" in body
    assert "|alert>" in body  # the bot's own message about billing-api


def test_related_names_the_missing_role(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    scc_standin.fail_next("ListFindings", grpc.StatusCode.PERMISSION_DENIED, "denied")
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    body = shown(wait_reply(slack, ts))
    assert "roles/securitycenter.findingsViewer" in body
    assert "list findings in organizations/123456789012/sources/-/locations/global" in body


def test_second_click_reuses_the_answer(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    wait_reply(slack, ts)
    calls = len(scc_standin.requests_to("ListFindings"))
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    second = wait_reply(slack, ts, count=2)
    assert len(scc_standin.requests_to("ListFindings")) == calls == 2
    assert "Same answer as a moment ago" in shown(second)
    assert "Reverse Shell" in shown(second)


def test_a_failed_lookup_is_not_cached(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    scc_standin.fail_next("ListFindings", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    assert "try again in a minute" in shown(wait_reply(slack, ts))
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    assert "Reverse Shell" in shown(wait_reply(slack, ts, count=2))


def test_click_is_acknowledged_before_google_answers(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    scc_standin.delay_next("ListFindings", 0.8)
    started = time.monotonic()
    click(slack_requests, InvestigateAction.RELATED, KEY, ts)
    assert time.monotonic() - started < 0.5
    assert replies(slack, ts) == []
    wait_reply(slack, ts)


def test_container_settings_of_the_labelled_revision(
    ts: str, slack_requests: Any, slack: Any, run_standin: Any
) -> None:
    click(slack_requests, InvestigateAction.CONTAINER, KEY, ts)
    reply = wait_reply(slack, ts)

    assert [r.name for r in run_standin.requests_to("GetService")] == [SERVICE]
    assert [r.resource for r in run_standin.requests_to("GetIamPolicy")] == [SERVICE]
    assert [r.name for r in run_standin.requests_to("GetRevision")] == [
        f"{SERVICE}/revisions/payments-api-00042-xyz"
    ]
    assert run_standin.requests_to("ListRevisions") == []
    body = shown(reply)
    for expected in (
        "payments-api-00042-xyz",
        "(container label)",
        cloud_run_sample.IMAGE,
        "sha256:6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d",
        cloud_run_sample.RUNTIME_ACCOUNT,
        "all traffic (internet)",
        "`allUsers` may invoke it",
        "*Default URL*\\non",
        "connector prod-vpc",
        "private ranges only",
        "*Binary Authorization*\\n`off`",
        "second generation",
        "1–20 instances",
        "100% → `payments-api-00042-xyz` (latest)",
        "0% → `payments-api-00041-abc` tag `previous`",
        cloud_run_sample.DEPLOYER,
        "`APP_ENV`",
        "`STRIPE_API_KEY` (secret `projects/987654321098/secrets/stripe-api-key (version 7)`)",
    ):
        assert expected in body, expected
    # Values stay hidden.
    assert "production" not in body


def test_container_infers_the_revision_serving_at_the_event_time(
    slack_requests: Any, services: Any, slack: Any, run_standin: Any
) -> None:
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    document["finding"]["containers"] = []
    document["finding"]["processes"][0]["envVariables"] = []
    ts = post_finding(services, slack, json.dumps(document).encode())

    click(slack_requests, InvestigateAction.CONTAINER, KEY, ts)
    body = shown(wait_reply(slack, ts))

    assert [r.parent for r in run_standin.requests_to("ListRevisions")] == [SERVICE]
    assert [r.name for r in run_standin.requests_to("GetRevision")] == [
        f"{SERVICE}/revisions/payments-api-00042-xyz"
    ]
    assert "serving at the event time" in body


def test_container_settings_of_a_job(
    slack_requests: Any, services: Any, slack: Any, run_standin: Any
) -> None:
    job, executions = cloud_run_sample.nightly_export()
    job.name = job.name.replace("us-central1", "europe-west1")
    for execution in executions:
        execution.name = execution.name.replace("us-central1", "europe-west1")
    run_standin.add_job(job, executions)
    ts = post_finding(services, slack, sample_bytes("malicious_python_inline_job_v2.json"))
    key = json.loads(sample_bytes("malicious_python_inline_job_v2.json"))["finding"]["name"]

    click(slack_requests, InvestigateAction.CONTAINER, key, ts)
    body = shown(wait_reply(slack, ts))

    assert [r.name for r in run_standin.requests_to("GetJob")] == [job.name]
    assert [r.parent for r in run_standin.requests_to("ListExecutions")] == [job.name]
    assert "job `nightly-export`" in body
    assert "`nightly-export-7x2kq` · *running*" in body
    assert "`nightly-export-m4p9d` · *succeeded*" in body
    assert "4 task(s), 2 in parallel, 1 retry" in body


def test_container_reports_what_was_not_found(
    ts: str, slack_requests: Any, slack: Any, run_standin: Any
) -> None:
    run_standin.fail_next("GetService", grpc.StatusCode.NOT_FOUND, "gone")
    click(slack_requests, InvestigateAction.CONTAINER, KEY, ts)
    body = shown(wait_reply(slack, ts))
    assert "found nothing to read service payments-api in acme-prod" in body


def test_container_names_the_run_role(
    ts: str, slack_requests: Any, slack: Any, run_standin: Any
) -> None:
    run_standin.fail_next("GetService", grpc.StatusCode.PERMISSION_DENIED, "denied")
    click(slack_requests, InvestigateAction.CONTAINER, KEY, ts)
    assert "roles/run.viewer" in shown(wait_reply(slack, ts))


def test_logs_of_the_revision_around_the_event(
    ts: str, slack_requests: Any, slack: Any, logging_standin: Any
) -> None:
    click(slack_requests, InvestigateAction.LOGS, KEY, ts)
    reply = wait_reply(slack, ts)

    request = logging_standin.requests_to("ListLogEntries")[0]
    assert list(request.resource_names) == ["projects/acme-prod"]
    assert request.filter == (
        'resource.type="cloud_run_revision"\n'
        'resource.labels.service_name="payments-api"\n'
        'resource.labels.revision_name="payments-api-00042-xyz"\n'
        'resource.labels.location="us-central1"\n'
        'timestamp>="2026-05-12T10:04:07.512Z"\n'
        'timestamp<="2026-05-12T10:24:07.512Z"'
    )
    assert request.order_by == "timestamp asc"
    assert request.page_size == 20
    body = shown(reply)
    lines = next(b for b in reply["blocks"] if b.get("block_id") == "investigate.lines")
    code = lines["text"]["text"]
    assert code.startswith("```10:12:05.000 INFO") and code.endswith("```")
    assert code.count("\n") == 19  # one page of 20 lines
    # The hostile log line is shown, inert.
    assert "&lt;!channel&gt; ˋrm -rf /ˋ" in code
    assert "First 20 entries" in body
    assert "/logs/query;query=" in body and "startTime=2026-05-12T10:04:07.000Z" in body
    assert "|Cloud Run's own log link>" in body


def test_logs_of_a_job_execution_use_the_execution_label(
    slack_requests: Any, services: Any, slack: Any, logging_standin: Any
) -> None:
    from google.api import monitored_resource_pb2

    def entry(execution: str, text: str, second: int) -> logging_types.LogEntry:
        return logging_types.LogEntry(
            log_name="projects/acme-prod/logs/run.googleapis.com%2Fstderr",
            resource=monitored_resource_pb2.MonitoredResource(
                type="cloud_run_job",
                labels={"job_name": "nightly-export", "location": "europe-west1"},
            ),
            labels={"run.googleapis.com/execution_name": execution},
            timestamp=f"2026-05-12T11:02:{second:02d}Z",
            text_payload=text,
        )

    logging_standin.add_entry(entry("nightly-export-8k2xq", "python3 -c exec(payload)", 30))
    logging_standin.add_entry(entry("nightly-export-other", "unrelated execution", 31))
    ts = post_finding(services, slack, sample_bytes("malicious_python_inline_job_v2.json"))
    key = json.loads(sample_bytes("malicious_python_inline_job_v2.json"))["finding"]["name"]

    click(slack_requests, InvestigateAction.LOGS, key, ts)
    body = shown(wait_reply(slack, ts))

    request = logging_standin.requests_to("ListLogEntries")[0]
    assert 'labels."run.googleapis.com/execution_name"="nightly-export-8k2xq"' in request.filter
    assert 'resource.type="cloud_run_job"' in request.filter
    assert "python3 -c exec(payload)" in body
    assert "unrelated execution" not in body


def test_logs_quota_error_says_retry(
    ts: str, slack_requests: Any, slack: Any, logging_standin: Any
) -> None:
    logging_standin.fail_next("ListLogEntries", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
    click(slack_requests, InvestigateAction.LOGS, KEY, ts)
    body = shown(wait_reply(slack, ts))
    assert "Logging quota is used up" in body and "try again" in body


def test_logs_permission_names_the_logging_role(
    ts: str, slack_requests: Any, slack: Any, logging_standin: Any
) -> None:
    logging_standin.fail_next("ListLogEntries", grpc.StatusCode.PERMISSION_DENIED, "denied")
    click(slack_requests, InvestigateAction.LOGS, KEY, ts)
    assert "roles/logging.viewer" in shown(wait_reply(slack, ts))


def test_virustotal_verdict(ts: str, slack_requests: Any, slack: Any, vt_api: Any) -> None:
    vt_api.add_file(
        SHA,
        stats={"malicious": 12, "suspicious": 2, "undetected": 50, "harmless": 0},
        names=["update.py", "<!channel>.py"],
        first_submission_date=1778580000,
        last_analysis_date=1778590000,
    )
    click(slack_requests, InvestigateAction.VIRUSTOTAL, KEY, ts)
    body = shown(wait_reply(slack, ts))

    assert [(r.path, r.api_key) for r in vt_api.file_requests()] == [
        (f"/api/v3/files/{SHA}", VT_KEY)
    ]
    assert "*12* of 64 engines say malicious" in body
    assert "*Suspicious*\\n2" in body
    assert "`update.py`" in body and "`&lt;!channel&gt;.py`" in body
    assert "<!date^1778580000^" in body


def test_virustotal_unknown_file(ts: str, slack_requests: Any, slack: Any, vt_api: Any) -> None:
    click(slack_requests, InvestigateAction.VIRUSTOTAL, KEY, ts)
    assert "not known to VirusTotal" in shown(wait_reply(slack, ts))


def test_virustotal_quota(ts: str, slack_requests: Any, slack: Any, vt_api: Any) -> None:
    vt_api.exceed_quota()
    click(slack_requests, InvestigateAction.VIRUSTOTAL, KEY, ts)
    assert "VirusTotal API quota is used up" in shown(wait_reply(slack, ts))


def test_full_script_is_uploaded_as_a_file(slack_requests: Any, services: Any, slack: Any) -> None:
    raw = sample_bytes("hostile_v2.json")
    ts = post_finding(services, slack, raw)
    message = slack.calls_to("chat.postMessage", ok=True)[-1].params
    actions = next(b for b in message["blocks"] if b.get("block_id") == FindingBlock.INVESTIGATE)
    assert InvestigateAction.SCRIPT in [e["action_id"] for e in actions["elements"]]
    finding = json.loads(raw)["finding"]
    contents = finding["processes"][0]["script"]["contents"]

    click(slack_requests, InvestigateAction.SCRIPT, finding["name"], ts)
    slack.wait_for(lambda: any(u.completed for u in slack.uploads.values()))

    [upload] = slack.uploads.values()
    assert upload.content == contents.encode()
    assert (upload.channel_id, upload.thread_ts) == (CHANNEL, ts)
    assert upload.filename.endswith(".txt")
    assert live_tokens(upload.initial_comment or "", []) == []

    click(slack_requests, InvestigateAction.SCRIPT, finding["name"], ts)
    slack.wait_for(
        lambda: any("uploaded to this thread" in shown(r.params) for r in replies(slack, ts))
    )
    assert len(slack.uploads) == 1


def test_mitre_reply_explains_the_tactic(ts: str, slack_requests: Any, slack: Any) -> None:
    click(slack_requests, InvestigateAction.MITRE, KEY, ts)
    body = shown(wait_reply(slack, ts))
    assert "<https://attack.mitre.org/tactics/TA0002/|Execution (TA0002)>" in body
    assert "trying to run malicious code" in body
    assert "<https://attack.mitre.org/techniques/T1059/006/|Python (T1059.006)>" in body
    assert "Ingress Tool Transfer (T1105)" in body


def test_unknown_finding_is_refused_privately(
    ts: str, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    click(slack_requests, InvestigateAction.RELATED, HOSTILE_KEY, ts)
    slack.wait_for(lambda: slack.calls_to("chat.postEphemeral"))
    assert "no longer has this finding" in slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert scc_standin.requests_to("ListFindings") == []


def test_link_only_virustotal_button_is_acknowledged(
    ts: str, slack_requests: Any, slack: Any
) -> None:
    response = slack_requests.block_action(
        user=USER, action_id=InvestigateAction.VIRUSTOTAL_LINK, channel=CHANNEL, message_ts=ts
    )
    assert response.status_code == 200
    assert replies(slack, ts) == []
