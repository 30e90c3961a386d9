"""Secrets never reach logs or Slack: tokens, keys, and environment values from a finding.

The bot runs a finding through the pipeline, answers investigation buttons and carries out
a containment, with every logger at DEBUG and the Cloud Logging JSON formatter attached.
Each secret below is a distinctive string; none may appear in any log record, in any
request the Slack stand-in received, or in the settings' repr.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import run_v2

from blocks.ids import ContainAction, ContainBlock, ContainCallback, InvestigateAction
from bot.config import Settings
from bot.containment.store import ContainmentStore, Status
from bot.logs import CloudJsonFormatter, ContextFilter
from bot.pipeline import Delivery, Outcome
from bot.refs import finding_ref
from standins.cloud_run_sample import SERVICE
from standins.slack_api import SlackStandIn
from standins.slack_requests import SlackRequests
from standins.virustotal import VirusTotalStandIn
from tests.conftest import CHANNEL, sample_bytes

BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN7f3a"
APP_TOKEN = "xapp-1-SECRETAPPTOKEN9c2e"
SIGNING_SECRET = "SECRETSIGNING5d81b0e4"
VT_KEY = "SECRETVTKEY4e8f2b7c1a90"
AWS_SECRET = "SECRETAWSwJalrXUtnFEMIK7MDENG"
DB_PASSWORD = "SECRETDBPASSWORDck38Zq"
RUN_ENV_VALUE = "SECRETRUNENVVALUE72hd9"
SECRETS = {
    "bot token": BOT_TOKEN,
    "app token": APP_TOKEN,
    "signing secret": SIGNING_SECRET,
    "VirusTotal key": VT_KEY,
    "finding env AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "finding env DB_PASSWORD": DB_PASSWORD,
    "Cloud Run env DB_PASSWORD": RUN_ENV_VALUE,
}

REQUESTER = "U0ALICE"
APPROVER = "U0BOB"
KEY = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)
SHA = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"
REVISION = f"{SERVICE}/revisions/payments-api-00042-xyz"
NOISY_LOGGERS = ("google.cloud.pubsub_v1", "urllib3", "slack_bolt.App", "werkzeug", "slack_sdk")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as standin:
        yield standin


@pytest.fixture
def vt_api() -> Iterator[VirusTotalStandIn]:
    with VirusTotalStandIn(api_key=VT_KEY) as standin:
        standin.add_file(SHA, stats={"malicious": 12, "undetected": 50}, names=["update.py"])
        yield standin


@pytest.fixture
def settings_overrides(google_settings: dict[str, Any], vt_api: Any) -> dict[str, Any]:
    return {
        **google_settings,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_app_token": APP_TOKEN,
        "vt_api_key": VT_KEY,
        "vt_api_url": vt_api.url,
        "approvers": [APPROVER],
        "responders": [REQUESTER],
    }


@pytest.fixture
def slack_requests(bot_server: str, slack: SlackStandIn) -> SlackRequests:
    return SlackRequests(bot_server, SIGNING_SECRET, response_url=slack.response_url("r1"))


@pytest.fixture
def json_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Capture every logger at DEBUG, through caplog and the Cloud Logging JSON formatter."""
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(ContextFilter())
    handler.setFormatter(CloudJsonFormatter("acme-prod"))
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def finding_with_secrets() -> bytes:
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    document["finding"]["processes"][0]["envVariables"] += [
        {"name": "AWS_SECRET_ACCESS_KEY", "val": AWS_SECRET},
        {"name": "DB_PASSWORD", "val": DB_PASSWORD},
    ]
    return json.dumps(document).encode()


def thread(slack: SlackStandIn, ts: str) -> list[str]:
    return [json.dumps(m.blocks, ensure_ascii=False) for m in slack.thread(CHANNEL, ts)]


def click(slack_requests: SlackRequests, slack: SlackStandIn, action: str, ts: str) -> str:
    """Click an investigation button and return the reply it adds to the thread."""
    before = len(slack.thread(CHANNEL, ts))
    response = slack_requests.block_action(
        user=REQUESTER, action_id=action, value=finding_ref(KEY), channel=CHANNEL, message_ts=ts
    )
    assert response.status_code == 200
    slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) > before)
    return thread(slack, ts)[before]


def contain(slack_requests: SlackRequests, slack: SlackStandIn, services: Any, ts: str) -> None:
    """Propose and approve taking the service off the internet; wait until it is done."""
    before = len(slack.thread(CHANNEL, ts))
    slack_requests.view_submission(
        user=REQUESTER,
        callback_id=ContainCallback.MODAL,
        private_metadata=finding_ref(KEY),
        values={
            ContainBlock.ACTIONS: {
                ContainAction.CHOOSE: {
                    "type": "checkboxes",
                    "selected_options": [{"value": "ingress_internal"}],
                }
            },
            ContainBlock.REASON: {
                ContainAction.REASON: {"type": "plain_text_input", "value": "miner"}
            },
        },
    )
    slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) > before)
    request_id = next(
        str(element["value"])
        for block in slack.thread(CHANNEL, ts)[-1].blocks
        for element in block.get("elements", [])
        if element.get("action_id") == ContainAction.APPROVE
    )
    slack_requests.block_action(
        user=APPROVER, action_id=ContainAction.APPROVE, value=request_id, channel=CHANNEL
    )
    store = ContainmentStore(services.engine)
    slack.wait_for(lambda: store.get(request_id).status is Status.DONE)
    slack.wait_for(lambda: any("Done." in text for text in thread(slack, ts)))


def record_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return everything a log record carries: message, args, extras and any traceback."""
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        texts.append(repr(vars(record)))
    return texts


def slack_texts(slack: SlackStandIn) -> list[str]:
    """Return every argument the Slack stand-in received, and what reached response_urls."""
    texts = [json.dumps(call.params, default=str, ensure_ascii=False) for call in slack.calls]
    texts.append(json.dumps(slack.responses, default=str, ensure_ascii=False))
    texts.extend(e.text for e in slack.ephemerals)
    return texts


def test_no_secret_reaches_logs_or_slack(
    services: Any,
    slack: SlackStandIn,
    slack_requests: SlackRequests,
    run_standin: Any,
    vt_api: VirusTotalStandIn,
    json_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_standin.revisions[REVISION].containers[0].env.append(
        run_v2.EnvVar(name="DB_PASSWORD", value=RUN_ENV_VALUE)
    )
    # A Slack failure and its retry, so the error paths log too.
    slack.fail_next("chat.postMessage", status=500)
    delivery = Delivery(data=finding_with_secrets(), message_id="m1")
    assert services.pipeline.handle(delivery) is Outcome.FAILED
    assert services.pipeline.handle(delivery) is Outcome.POSTED
    ts = str(slack.calls_to("chat.postMessage", ok=True)[0].response["ts"])

    answers = {
        action: click(slack_requests, slack, action, ts)
        for action in (
            InvestigateAction.RELATED,
            InvestigateAction.CONTAINER,
            InvestigateAction.LOGS,
            InvestigateAction.VIRUSTOTAL,
            InvestigateAction.MITRE,
        )
    }
    contain(slack_requests, slack, services, ts)

    # The secrets were within reach: the key was sent to VirusTotal, the variables shown.
    assert {r.api_key for r in vt_api.file_requests()} == {VT_KEY}
    assert "*12* of 62 engines say malicious" in answers[InvestigateAction.VIRUSTOTAL]
    assert "`DB_PASSWORD`" in answers[InvestigateAction.CONTAINER]
    assert "`APP_ENV`" in answers[InvestigateAction.CONTAINER]
    assert "production" not in answers[InvestigateAction.CONTAINER]
    assert [r.service.ingress for r in run_standin.requests_to("UpdateService")] == [
        run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    ]
    # And the logs were captured, at DEBUG, from the bot and from the Slack client.
    logged = json_logs.getvalue()
    assert '"severity": "DEBUG"' in logged
    assert any(r.name.startswith("slack_sdk") for r in caplog.records)
    assert any(r.name == "bot.pipeline" and "posted" in r.getMessage() for r in caplog.records)

    places = {
        "log records": record_texts(caplog),
        "JSON log lines": [json_logs.getvalue()],
        "Slack requests": slack_texts(slack),
        "settings": [repr(services.settings), str(services.settings)],
    }
    leaks = sorted(
        (what, where)
        for what, secret in SECRETS.items()
        for where, texts in places.items()
        if any(secret in text for text in texts)
    )
    assert leaks == []


def test_settings_repr_hides_the_tokens_and_keys() -> None:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=APP_TOKEN,
        slack_channel=CHANNEL,
        vt_api_key=VT_KEY,
    )

    shown = repr(settings) + str(settings) + repr(settings.model_dump())

    assert [s for s in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, VT_KEY) if s in shown] == []
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN


def test_settings_repr_hides_the_database_password() -> None:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_channel=CHANNEL,
        database_url=f"postgresql+psycopg://bot:{DB_PASSWORD}@127.0.0.1:5432/bot",
    )

    assert DB_PASSWORD not in repr(settings)
