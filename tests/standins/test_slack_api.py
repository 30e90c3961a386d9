"""The Slack stand-in, exercised through the real slack_sdk WebClient."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from standins.slack_api import SlackStandIn

CHANNEL = "C0ALERTS"

# Tests that leave out `text` on purpose would otherwise print slack_sdk's advice.
pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument:UserWarning")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=5)


def api_error(call: Any) -> dict[str, Any]:
    """Run ``call`` expecting SlackApiError and return the response body."""
    with pytest.raises(SlackApiError) as raised:
        call()
    data = raised.value.response.data
    assert isinstance(data, dict)
    return data


def post_raw(url: str, data: bytes, content_type: str) -> tuple[int, bytes]:
    """POST bytes to the stand-in (always http://127.0.0.1) and return (status, body)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the stand-in's own
        url, data=data, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, text: str = "Ack", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        **extra,
    }


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Mute finding"},
        "blocks": blocks,
        **extra,
    }


# -- messages ------------------------------------------------------------------------------


def test_post_message_records_message_and_returns_increasing_ts(
    slack: SlackStandIn, client: WebClient
) -> None:
    first = client.chat_postMessage(channel=CHANNEL, text="one", blocks=[section("*one*")])
    second = client.chat_postMessage(
        channel=CHANNEL, text="two", metadata={"event_type": "finding", "event_payload": {"a": 1}}
    )

    assert first["channel"] == CHANNEL
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == [section("*one*")]
    stored = slack.messages[(CHANNEL, first["ts"])]
    assert (stored.text, stored.user, stored.blocks) == ("one", "U0BOT", [section("*one*")])
    assert slack.messages[(CHANNEL, second["ts"])].metadata == {
        "event_type": "finding",
        "event_payload": {"a": 1},
    }
    call = slack.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == [section("*one*")]
    assert "token" not in call.params


def test_form_encoded_request_decodes_json_fields_and_reads_form_token(
    slack: SlackStandIn,
) -> None:
    anonymous = WebClient(base_url=slack.base_url)
    blocks = json.dumps([section("from a form")])

    response = anonymous.api_call(
        "chat.postMessage",
        params={"token": slack.bot_token, "channel": CHANNEL, "text": "t", "blocks": blocks},
    )

    assert response["ok"] is True
    assert slack.messages[(CHANNEL, response["ts"])].blocks == [section("from a form")]
    bad = api_error(
        lambda: anonymous.api_call(
            "chat.postMessage",
            params={"token": slack.bot_token, "channel": CHANNEL, "blocks": "[{"},
        )
    )
    assert bad["error"] == "invalid_blocks_format"


def test_update_keeps_previous_versions(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=CHANNEL, text="open", blocks=[section("open")])

    updated = client.chat_update(channel=CHANNEL, ts=posted["ts"], text="closed")

    message = slack.messages[(CHANNEL, posted["ts"])]
    assert updated["ts"] == posted["ts"]
    assert message.text == "closed"
    assert message.blocks == [section("open")]  # omitted blocks stay
    assert [edit.text for edit in message.edits] == ["open"]
    assert updated["message"]["edited"]["user"] == "U0BOT"
    client.chat_update(channel=CHANNEL, ts=posted["ts"], text="closed", blocks=[])
    assert message.blocks == []


def test_update_refuses_unknown_and_foreign_messages(
    slack: SlackStandIn, client: WebClient
) -> None:
    human = slack.post_as_user(CHANNEL, "hello", user="U0HUMAN")

    missing = api_error(lambda: client.chat_update(channel=CHANNEL, ts="1.000001", text="x"))
    foreign = api_error(lambda: client.chat_update(channel=CHANNEL, ts=human.ts, text="x"))
    empty = api_error(lambda: client.chat_update(channel=CHANNEL, ts=human.ts))

    assert missing["error"] == "message_not_found"
    assert foreign["error"] == "cant_update_message"
    assert empty["error"] == "cant_update_message"
    assert slack.messages[(CHANNEL, human.ts)].text == "hello"


def test_thread_replies_and_conversations_replies(slack: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=CHANNEL, text="finding")
    for text in ("muted", "unmuted"):
        client.chat_postMessage(channel=CHANNEL, text=text, thread_ts=parent["ts"])

    replies = client.conversations_replies(channel=CHANNEL, ts=parent["ts"])

    assert [m.text for m in slack.thread(CHANNEL, parent["ts"])] == ["muted", "unmuted"]
    assert [m["text"] for m in replies["messages"]] == ["finding", "muted", "unmuted"]
    assert replies["messages"][0]["reply_count"] == 2
    missing = api_error(lambda: client.conversations_replies(channel=CHANNEL, ts="1.000001"))
    assert missing["error"] == "thread_not_found"


def test_ephemeral_permalink_and_delete(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=CHANNEL, text="finding")
    reply = client.chat_postMessage(channel=CHANNEL, text="r", thread_ts=posted["ts"])

    ephemeral = client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="only you")
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=posted["ts"])
    reply_link = client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"])
    client.chat_delete(channel=CHANNEL, ts=reply["ts"])

    assert slack.ephemerals[0].user == "U0ALICE"
    assert slack.ephemerals[0].message_ts == ephemeral["message_ts"]
    digits = posted["ts"].replace(".", "")
    assert link["permalink"] == f"https://example.slack.com/archives/{CHANNEL}/p{digits}"
    assert reply_link["permalink"].endswith(f"?thread_ts={posted['ts']}&cid={CHANNEL}")
    assert slack.thread(CHANNEL, posted["ts"]) == []
    gone = api_error(lambda: client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"]))
    assert gone["error"] == "message_not_found"
    bad_user = api_error(lambda: client.chat_postEphemeral(channel=CHANNEL, user="x", text="t"))
    assert bad_user["error"] == "user_not_in_channel"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "general", "text": "t"}, "channel_not_found"),
        ({"channel": "#alerts", "text": "t"}, "channel_not_found"),
        ({"channel": CHANNEL}, "no_text"),
        ({"channel": CHANNEL, "text": "x" * 40_001}, "msg_too_long"),
        (
            {"channel": CHANNEL, "text": "t", "metadata": {"event_type": "x"}},
            "invalid_metadata_format",
        ),
    ],
)
def test_post_message_argument_errors(
    client: WebClient, kwargs: dict[str, Any], error: str
) -> None:
    assert api_error(lambda: client.chat_postMessage(**kwargs))["error"] == error


def test_text_at_the_limit_and_not_in_channel(slack: SlackStandIn, client: WebClient) -> None:
    assert client.chat_postMessage(channel=CHANNEL, text="x" * 40_000)["ok"] is True
    slack.set_not_in_channel("C0PRIVATE")

    refused = api_error(lambda: client.chat_postMessage(channel="C0PRIVATE", text="t"))

    assert refused["error"] == "not_in_channel"


def test_post_message_to_a_user_id_lands_in_the_bots_dm(
    slack: SlackStandIn, client: WebClient
) -> None:
    first = client.chat_postMessage(channel="U0ALICE", text="one")
    second = client.chat_postMessage(channel="U0ALICE", text="two")
    other = client.chat_postMessage(channel="W0BOB", text="three")

    dm = slack.dm_channel("U0ALICE")
    assert dm is not None and dm.startswith("D")
    assert (first["channel"], second["channel"]) == (dm, dm)
    assert other["channel"] == slack.dm_channel("W0BOB") != dm
    assert slack.messages[(dm, second["ts"])].text == "two"
    # Only chat.postMessage opens the DM; other methods need the conversation id.
    refused = api_error(lambda: client.chat_update(channel="U0ALICE", ts=first["ts"], text="x"))
    assert refused["error"] == "channel_not_found"
    assert slack.dm_channel("U0CAROL") is None


# -- Block Kit -----------------------------------------------------------------------------


def _many(count: int, make: Any) -> list[Any]:
    return [make(i) for i in range(count)]


INVALID_BLOCKS = {
    "51 blocks": (_many(51, lambda i: {"type": "divider"}), "/blocks"),
    "section text 3001": ([section("x" * 3001)], "/blocks/0/text/text"),
    "11 fields": (
        [{"type": "section", "fields": _many(11, lambda i: {"type": "mrkdwn", "text": "f"})}],
        "/blocks/0/fields",
    ),
    "field 2001": (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        "/blocks/0/fields/0/text",
    ),
    "section without text": ([{"type": "section"}], "/blocks/0"),
    "header 151": (
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "/blocks/0/text/text",
    ),
    "mrkdwn header": (
        [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
        "/blocks/0/text/type",
    ),
    "button text 76": (
        [{"type": "actions", "elements": [button("a", "b" * 76)]}],
        "/blocks/0/elements/0/text/text",
    ),
    "mrkdwn button": (
        [
            {
                "type": "actions",
                "elements": [{**button("a"), "text": {"type": "mrkdwn", "text": "b"}}],
            }
        ],
        "/blocks/0/elements/0/text/type",
    ),
    "button value 2001": (
        [{"type": "actions", "elements": [button("a", value="v" * 2001)]}],
        "/blocks/0/elements/0/value",
    ),
    "button url 3001": (
        [{"type": "actions", "elements": [button("a", url="https://x/" + "u" * 2991)]}],
        "/blocks/0/elements/0/url",
    ),
    "button style": (
        [{"type": "actions", "elements": [button("a", style="secondary")]}],
        "/blocks/0/elements/0/style",
    ),
    "action_id 256": (
        [{"type": "actions", "elements": [button("a" * 256)]}],
        "/blocks/0/elements/0/action_id",
    ),
    "duplicate action_id": (
        [
            {"type": "actions", "elements": [button("ack")]},
            {"type": "actions", "elements": [button("ack")]},
        ],
        "/blocks/1/elements/0/action_id",
    ),
    "duplicate block_id": (
        [section("a", block_id="finding"), section("b", block_id="finding")],
        "/blocks/1/block_id",
    ),
    "block_id 256": ([section("a", block_id="b" * 256)], "/blocks/0/block_id"),
    "26 actions": (
        [{"type": "actions", "elements": _many(26, lambda i: button(f"a{i}"))}],
        "/blocks/0/elements",
    ),
    "11 context elements": (
        [{"type": "context", "elements": _many(11, lambda i: {"type": "mrkdwn", "text": "c"})}],
        "/blocks/0/elements",
    ),
    "empty text": ([section("")], "/blocks/0/text/text"),
    "text without type": ([{"type": "section", "text": {"text": "t"}}], "/blocks/0/text"),
    "image without alt_text": (
        [{"type": "image", "image_url": "https://example.com/a.png"}],
        "/blocks/0",
    ),
    "unknown block": ([{"type": "table"}], "/blocks/0/type"),
    "unknown element": (
        [{"type": "actions", "elements": [{"type": "slider", "action_id": "s"}]}],
        "/blocks/0/elements/0/type",
    ),
    "input in a message": (
        [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Why"},
                "element": {"type": "plain_text_input", "action_id": "why"},
            }
        ],
        "/blocks/0/type",
    ),
    "101 select options": (
        [
            section(
                "pick",
                accessory={
                    "type": "static_select",
                    "action_id": "pick",
                    "options": _many(
                        101,
                        lambda i: {"text": {"type": "plain_text", "text": "o"}, "value": f"{i}"},
                    ),
                },
            )
        ],
        "/blocks/0/accessory/options",
    ),
    "option text 76": (
        [
            section(
                "pick",
                accessory={
                    "type": "static_select",
                    "action_id": "pick",
                    "options": [{"text": {"type": "plain_text", "text": "o" * 76}, "value": "v"}],
                },
            )
        ],
        "/blocks/0/accessory/options/0/text/text",
    ),
    "option value 151": (
        [
            section(
                "pick",
                accessory={
                    "type": "overflow",
                    "action_id": "more",
                    "options": [{"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}],
                },
            )
        ],
        "/blocks/0/accessory/options/0/value",
    ),
    "11 checkboxes": (
        [
            section(
                "pick",
                accessory={
                    "type": "checkboxes",
                    "action_id": "pick",
                    "options": _many(
                        11, lambda i: {"text": {"type": "mrkdwn", "text": "o"}, "value": f"{i}"}
                    ),
                },
            )
        ],
        "/blocks/0/accessory/options",
    ),
    "confirm without deny": (
        [
            {
                "type": "actions",
                "elements": [
                    button(
                        "mute",
                        confirm={
                            "title": {"type": "plain_text", "text": "Sure?"},
                            "text": {"type": "mrkdwn", "text": "Mute it"},
                            "confirm": {"type": "plain_text", "text": "Mute"},
                        },
                    )
                ],
            }
        ],
        "/blocks/0/elements/0/confirm",
    ),
    "rich_text without sections": (
        [{"type": "rich_text", "elements": [{"type": "text", "text": "t"}]}],
        "/blocks/0/elements/0",
    ),
}


@pytest.mark.parametrize(("blocks", "pointer"), INVALID_BLOCKS.values(), ids=INVALID_BLOCKS.keys())
def test_invalid_blocks_are_refused_with_slacks_error_shape(
    slack: SlackStandIn, client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    data = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks))

    assert data["error"] == "invalid_blocks"
    assert any(error.endswith(f"[json-pointer:{pointer}]") for error in data["errors"]), data
    assert data["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert slack.messages == {}


def test_blocks_at_the_limits_are_accepted(slack: SlackStandIn, client: WebClient) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("x" * 3000, block_id="b" * 255),
        {"type": "section", "fields": _many(10, lambda i: {"type": "mrkdwn", "text": "f" * 2000})},
        {
            "type": "actions",
            "elements": [
                button("a" * 255, "b" * 75, value="v" * 2000, style="danger"),
                *_many(24, lambda i: button(f"more_{i}")),
            ],
        },
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]},
                {
                    "type": "rich_text_list",
                    "style": "bullet",
                    "elements": [{"type": "rich_text_section", "elements": []}],
                },
            ],
        },
        {"type": "context", "elements": _many(10, lambda i: {"type": "plain_text", "text": "c"})},
    ]
    blocks += _many(50 - len(blocks), lambda i: {"type": "divider"})

    response = client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)

    assert len(slack.messages[(CHANNEL, response["ts"])].blocks) == 50


# -- authentication and faults -------------------------------------------------------------


def test_auth(slack: SlackStandIn, client: WebClient) -> None:
    identity = client.auth_test()
    wrong = WebClient(token="xoxb-wrong", base_url=slack.base_url)

    assert (identity["user_id"], identity["team_id"], identity["bot_id"]) == (
        "U0BOT",
        "T0TEST",
        "B0BOT",
    )
    assert api_error(lambda: wrong.chat_postMessage(channel=CHANNEL, text="t"))["error"] == (
        "invalid_auth"
    )
    assert api_error(lambda: client.api_call("chat.scheduleMessage"))["error"] == "unknown_method"
    assert slack.calls_to("chat.postMessage", ok=False)[0].response["error"] == "invalid_auth"


def test_json_body_needs_the_bearer_header(slack: SlackStandIn) -> None:
    body = json.dumps({"token": slack.bot_token}).encode()

    status, answer = post_raw(slack.base_url + "auth.test", body, "application/json")

    assert (status, json.loads(answer)) == (200, {"ok": False, "error": "not_authed"})


def test_rate_limit_answers_429_and_the_retry_handler_recovers() -> None:
    limited = SlackStandIn(rate_limit_per_channel=5.0, burst=2).start()
    try:
        plain = WebClient(token=limited.bot_token, base_url=limited.base_url)
        patient = WebClient(
            token=limited.bot_token,
            base_url=limited.base_url,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
        )
        for _ in range(2):
            plain.chat_postMessage(channel=CHANNEL, text="burst")

        with pytest.raises(SlackApiError) as raised:
            plain.chat_postMessage(channel=CHANNEL, text="over")
        other_channel = plain.chat_postMessage(channel="C0OTHER", text="fine")
        recovered = patient.chat_postMessage(channel=CHANNEL, text="after retry")

        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "1"
        assert raised.value.response["error"] == "ratelimited"
        assert other_channel["ok"] is True
        assert recovered["ok"] is True
        statuses = [c.status for c in limited.calls_to("chat.postMessage")]
        assert statuses[:4] == [200, 200, 429, 200]
        assert statuses[-1] == 200
    finally:
        limited.stop()


def test_fail_next_injects_errors_then_recovers(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="channel_is_archived")
    slack.fail_next("*", count=2, status=500)

    archived = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="t"))
    with pytest.raises(SlackApiError) as first:
        client.auth_test()
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    recovered = retrying.chat_postMessage(channel=CHANNEL, text="t")

    assert archived["error"] == "channel_is_archived"
    assert first.value.response.status_code == 500
    assert recovered["ok"] is True
    assert [c.status for c in slack.calls] == [200, 500, 500, 200]


def test_fail_next_with_retry_after_answers_429(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.update", retry_after=7)
    posted = client.chat_postMessage(channel=CHANNEL, text="t")

    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=CHANNEL, ts=posted["ts"], text="u")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert client.chat_update(channel=CHANNEL, ts=posted["ts"], text="u")["ok"] is True


def test_set_down(slack: SlackStandIn, client: WebClient) -> None:
    slack.set_down(True)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CHANNEL, text="t")
    slack.set_down(False)

    assert raised.value.response.status_code == 503
    assert client.chat_postMessage(channel=CHANNEL, text="t")["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 200]


# -- files ---------------------------------------------------------------------------------


def test_files_upload_v2_end_to_end(slack: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=CHANNEL, text="finding")
    content = b"resource,severity\nvm-1,HIGH\n"

    response = client.files_upload_v2(
        channel=CHANNEL,
        thread_ts=parent["ts"],
        content=content,
        filename="findings.csv",
        title="Findings",
        initial_comment="Export attached",
    )

    file_id = response["file"]["id"]
    upload = slack.uploads[file_id]
    assert upload.content == content
    assert (upload.filename, upload.title) == ("findings.csv", "Findings")
    assert (upload.channel_id, upload.thread_ts) == (CHANNEL, parent["ts"])
    assert upload.initial_comment == "Export attached"
    [share] = slack.thread(CHANNEL, parent["ts"])
    assert (share.text, share.files) == ("Export attached", [file_id])
    assert [c.method for c in slack.calls[1:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_upload_with_wrong_length_cannot_be_completed(
    slack: SlackStandIn, client: WebClient
) -> None:
    ticket = client.files_getUploadURLExternal(filename="a.txt", length=10)

    status, _ = post_raw(ticket["upload_url"], b"short", "application/octet-stream")
    incomplete = api_error(
        lambda: client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    )

    assert status == 400
    assert incomplete["error"] == "file_not_found"


def test_upload_url_accepts_multipart(slack: SlackStandIn, client: WebClient) -> None:
    content = b"\x00binary\r\n--not-a-boundary"
    ticket = client.files_getUploadURLExternal(filename="dump.bin", length=len(content))
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="dump.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--XyZ--\r\n"
    )

    status, answer = post_raw(ticket["upload_url"], body, "multipart/form-data; boundary=XyZ")
    client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "Dump"}])

    assert (status, answer) == (200, f"OK - {len(content)}".encode())
    assert slack.uploads[ticket["file_id"]].content == content
    assert slack.uploads[ticket["file_id"]].channel_id is None


# -- views ---------------------------------------------------------------------------------


def test_views_open_update_and_push(slack: SlackStandIn, client: WebClient) -> None:
    reason = {
        "type": "input",
        "block_id": "reason",
        "label": {"type": "plain_text", "text": "Reason"},
        "element": {"type": "plain_text_input", "action_id": "reason", "max_length": 3000},
    }
    submit = {"type": "plain_text", "text": "Mute"}

    opened = client.views_open(
        trigger_id="t1",
        view=modal([reason], submit=submit, callback_id="mute", private_metadata="m"),
    )
    view = opened["view"]
    updated = client.views_update(
        view_id=view["id"], hash=view["hash"], view=modal([section("Muting…")])
    )
    stale = api_error(
        lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=modal([]))
    )
    pushed = client.views_push(trigger_id="t2", view=modal([section("details")]))

    assert view["id"].startswith("V")
    assert view["callback_id"] == "mute"
    assert view["state"] == {"values": {}}
    assert slack.views[view["id"]]["blocks"] == [section("Muting…")]
    assert updated["view"]["hash"] != view["hash"]
    assert stale["error"] == "hash_conflict"
    assert pushed["view"]["root_view_id"] == view["id"]
    assert pushed["view"]["previous_view_id"] == view["id"]
    reused = api_error(lambda: client.views_open(trigger_id="t1", view=modal([])))
    assert reused["error"] == "exchanged_trigger_id"


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal([], title={"type": "plain_text", "text": "t" * 25}), "/view/title/text"),
        (modal([], title={"type": "mrkdwn", "text": "t"}), "/view/title/type"),
        (modal([], submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        (modal([], private_metadata="m" * 3001), "/view/private_metadata"),
        (modal([], callback_id="c" * 256), "/view/callback_id"),
        (modal(_many(101, lambda i: {"type": "divider"})), "/view/blocks"),
        (
            modal(
                [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "Why"},
                        "element": {"type": "plain_text_input", "action_id": "why"},
                    }
                ]
            ),
            "/view",
        ),
        ({"type": "home", "blocks": []}, "/view/type"),
    ],
)
def test_invalid_views_are_refused(client: WebClient, view: dict[str, Any], pointer: str) -> None:
    data = api_error(lambda: client.views_open(trigger_id="t", view=view))

    assert data["error"] == "invalid_arguments"
    messages = data["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages


def test_views_publish_home_tab_allows_100_blocks(slack: SlackStandIn, client: WebClient) -> None:
    home = {"type": "home", "blocks": _many(100, lambda i: section(f"finding {i}"))}

    published = client.views_publish(user_id="U0ALICE", view=home)
    again = client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})

    assert published["view"]["type"] == "home"
    assert again["view"]["id"] == published["view"]["id"]
    assert slack.home_tabs["U0ALICE"]["blocks"] == []
    modal_there = api_error(lambda: client.views_publish(user_id="U0ALICE", view=modal([])))
    assert modal_there["error"] == "invalid_arguments"


# -- users ---------------------------------------------------------------------------------


def test_usergroups_and_users(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_user("U0ALICE", name="alice", tz="America/New_York", is_admin=True)
    slack.set_usergroup("S0SECOPS", ["U0ALICE", "U0BOB"])

    members = client.usergroups_users_list(usergroup="S0SECOPS")
    alice = client.users_info(user="U0ALICE")["user"]

    offset = datetime.now(ZoneInfo("America/New_York")).utcoffset()
    assert offset is not None
    assert members["users"] == ["U0ALICE", "U0BOB"]
    assert (alice["tz"], alice["tz_offset"]) == ("America/New_York", offset.total_seconds())
    assert (alice["real_name"], alice["is_admin"]) == ("Alice", True)
    missing_group = api_error(lambda: client.usergroups_users_list(usergroup="S0NOPE"))
    assert missing_group["error"] == "no_such_subteam"
    assert api_error(lambda: client.users_info(user="U0NOPE"))["error"] == "user_not_found"


# -- response_url, waiting, reset ----------------------------------------------------------


def test_bolt_app_starts_against_the_standin(slack: SlackStandIn, client: WebClient) -> None:
    App(signing_secret="test-signing-secret", client=client)

    assert [c.method for c in slack.calls_to("auth.test", ok=True)] == ["auth.test"]


def test_bolt_respond_posts_to_the_response_url(slack: SlackStandIn) -> None:
    respond = Respond(response_url=slack.response_url("mute"))

    answer = respond(text="Muted", blocks=[section("Muted")], replace_original=True)
    refused = respond(blocks=[{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}])

    assert answer.status_code == 200
    assert slack.responses["mute"] == [
        {"text": "Muted", "blocks": [section("Muted")], "replace_original": True}
    ]
    assert (refused.status_code, refused.body) == (400, "invalid_blocks")


def test_wait_for_reports_what_happened(slack: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel=CHANNEL, text="t")
    slack.wait_for(lambda: len(slack.calls) == 1, timeout=1)

    with pytest.raises(
        AssertionError, match=r"not met within 0.05 s; calls: \[chat.postMessage=ok\]"
    ):
        slack.wait_for(lambda: bool(slack.calls_to("chat.update")), timeout=0.05)


def test_reset_clears_state(slack: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel=CHANNEL, text="t")
    slack.fail_next("*", error="fatal_error")

    slack.reset()

    assert (slack.calls, slack.messages) == ([], {})
    assert client.chat_postMessage(channel=CHANNEL, text="t")["ok"] is True
