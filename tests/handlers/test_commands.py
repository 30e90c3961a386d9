from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.cloud import securitycenter_v2

from blocks.ids import CommandAction, CommandBlock, FindingBlock
from bot.pipeline import Delivery
from bot.refs import finding_ref
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import live_tokens

ORG = "organizations/123456789012"
SOURCE = "11223344556677889900"
FID = "23eeeb4347bdd26bfc6b7ee9a3b755dd"
V2 = f"{ORG}/sources/{SOURCE}/locations/global/findings/{FID}"
V1 = f"{ORG}/sources/{SOURCE}/findings/{FID}"
CANONICAL = f"projects/987654321098/sources/{SOURCE}/locations/global/findings/{FID}"
SOURCE_PARENT = f"{ORG}/sources/{SOURCE}/locations/global"
ALICE = "U0ALICE"


@pytest.fixture
def settings_overrides(scc_standin: Any) -> dict[str, Any]:
    # Only SCC is called here; the Cloud Run and Logging stand-ins would only slow setup.
    return {"scc_emulator_host": scc_standin.address, "scc_parent": ORG}


def _command(slack_requests: Any, text: str, *, user: str = ALICE, channel: str = CHANNEL) -> Any:
    response = slack_requests.slash_command(user=user, command="/scc", text=text, channel=channel)
    assert response.status_code == 200
    return response.json() if response.content else {}


def _answers(slack: Any, count: int = 1) -> list[dict[str, Any]]:
    slack.wait_for(lambda: len(slack.responses.get("r1", [])) >= count)
    return slack.responses["r1"]


def _by_id(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in blocks if "block_id" in block}


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def _post_sample(services: Any, slack: Any, name: str = "malicious_python_v2.json") -> str:
    services.pipeline.handle(Delivery(data=sample_bytes(name), message_id=name))
    return str(slack.calls_to("chat.postMessage", ok=True)[-1].response["ts"])


# -- show -----------------------------------------------------------------------------------


# Every accepted form goes through the same running bot, one command after another.
ACCEPTED = [
    (V2, SOURCE_PARENT, [V2]),
    (V1, SOURCE_PARENT, [V2]),
    (CANONICAL, f"projects/987654321098/sources/{SOURCE}/locations/global", [CANONICAL, V2]),
    (
        "<https://console.cloud.google.com/security/command-center/findingsv2;name="
        + V2.replace("/", "%2F")
        + "?organizationId=123456789012>",
        SOURCE_PARENT,
        [V2],
    ),
    (
        "https://console.cloud.google.com/security/command-center/findings"
        f"?organizationId=123456789012&amp;resourceId={V1}",
        SOURCE_PARENT,
        [V2],
    ),
    (f"\u00a0“{V2}”", SOURCE_PARENT, [V2]),
    (f"`{V1}`", SOURCE_PARENT, [V2]),
]


def test_show_fetches_the_finding_and_shows_it_to_the_caller(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    for index, (typed, parent, names) in enumerate(ACCEPTED):
        ack = _command(slack_requests, f"show {typed}")

        assert ack["response_type"] == "ephemeral", typed
        assert "Looking the finding up" in _text(ack), typed
        answer = _answers(slack, index + 1)[index]
        request = scc_standin.requests_to("ListFindings")[index]
        assert request.parent == parent, typed
        assert request.filter == " OR ".join(f'name="{name}"' for name in names), typed
        assert answer["response_type"] == "ephemeral", typed
        blocks = _by_id(answer["blocks"])
        assert blocks[FindingBlock.HEADER]["text"]["text"] == (
            ":red_circle: CRITICAL · Execution: Malicious Python executed"
        )
        share = blocks[CommandBlock.SHARE]["elements"][0]
        assert share["action_id"] == CommandAction.SHARE
        assert share["value"] == finding_ref(V2)
        assert live_tokens(answer["text"], answer["blocks"]) == []
    # Shown to the caller only: nothing was posted to the channel.
    assert slack.calls_to("chat.postMessage") == []


def test_show_bare_id_resolves_from_the_store(
    services: Any, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    _post_sample(services, slack)

    _command(slack_requests, f"show {FID}")

    answer = _answers(slack)[0]
    request = scc_standin.requests_to("ListFindings")[0]
    assert (request.parent, request.filter) == (SOURCE_PARENT, f'name="{V2}"')
    assert CommandBlock.SHARE in _by_id(answer["blocks"])


def test_show_unknown_bare_id_asks_for_the_full_name(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    _command(slack_requests, "show 0123456789abcdef0123456789abcdef")

    answer = _answers(slack)[0]
    assert "has not seen a finding with id" in _text(answer)
    assert scc_standin.requests_to("ListFindings") == []


REJECTED = [
    "",
    "abc",
    f'{V2}" OR name:"x',
    f"{ORG}/sources/abc/findings/{FID}",
    f"{ORG}/sources/{SOURCE}/findings/{FID}-x",
    "https://evil.example.com/security/command-center/findingsv2;name=" + V2,
    "http://console.cloud.google.com/security/command-center/findingsv2;name=" + V2,
    "https://console.cloud.google.com/security/command-center/findings?organizationId=1",
    "<!channel>",
]


def test_show_rejects_input_before_any_call(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    for typed in REJECTED:
        ack = _command(slack_requests, f"show {typed}")

        assert ack["response_type"] == "ephemeral", typed
        example = "show organizations/123/sources/456/locations/global/findings/abc123"
        assert example in _text(ack), typed
        assert live_tokens(ack["text"], ack["blocks"]) == [], typed
    assert scc_standin.requests_to("ListFindings") == []
    assert slack.responses.get("r1") is None


def test_show_outside_scc_parent_is_refused_before_any_call(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    foreign = f"organizations/999999999999/sources/{SOURCE}/locations/global/findings/{FID}"

    ack = _command(slack_requests, f"show {foreign}")

    assert ack["response_type"] == "ephemeral"
    assert f"`SCC_PARENT` is `{ORG}`" in _text(ack)
    assert live_tokens(ack["text"], ack["blocks"]) == []
    assert scc_standin.requests_to("ListFindings") == []
    assert slack.responses.get("r1") is None


def test_show_missing_finding_says_so(slack_requests: Any, slack: Any) -> None:
    missing = f"{ORG}/sources/{SOURCE}/locations/global/findings/ffffffffffffffffffffffffffffffff"

    _command(slack_requests, f"show {missing}")

    assert "has no finding" in _text(_answers(slack)[0])


def test_permission_error_names_the_role_to_the_caller_alone(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    scc_standin.fail_next("ListFindings", grpc.StatusCode.PERMISSION_DENIED, "caller lacks it")

    _command(slack_requests, f"show {V2}")

    answer = _answers(slack)[0]
    assert answer["response_type"] == "ephemeral"
    assert "`roles/securitycenter.findingsViewer`" in _text(answer)
    assert slack.calls_to("chat.postMessage") == []


# -- share ----------------------------------------------------------------------------------


def test_share_posts_the_finding_in_the_channel_and_removes_the_private_copy(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    response = slack_requests.block_action(
        user=ALICE, action_id=CommandAction.SHARE, value=finding_ref(V2), channel=CHANNEL
    )

    assert response.status_code == 200
    slack.wait_for(lambda: slack.calls_to("chat.postMessage", ok=True))
    post = slack.calls_to("chat.postMessage", ok=True)[0]
    assert post.params["channel"] == CHANNEL
    blocks = _by_id(post.params["blocks"])
    assert f"Shared by <@{ALICE}>" in json.dumps(blocks[FindingBlock.NOTICE])
    assert CommandBlock.SHARE not in blocks
    assert scc_standin.requests_to("ListFindings")[0].filter == f'name="{V2}"'
    assert _answers(slack)[0]["delete_original"] is True


def test_share_where_the_bot_is_not_a_member_says_to_invite_it(
    slack_requests: Any, slack: Any
) -> None:
    slack.set_not_in_channel(CHANNEL)

    slack_requests.block_action(
        user=ALICE, action_id=CommandAction.SHARE, value=finding_ref(V2), channel=CHANNEL
    )

    assert "invite it" in _text(_answers(slack)[0])


def test_share_with_a_forged_value_is_refused(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    slack_requests.block_action(
        user=ALICE, action_id=CommandAction.SHARE, value='{"f": "x\\" OR name:\\"y"}'
    )

    slack.wait_for(lambda: slack.calls_to("chat.postEphemeral"))
    assert "older message" in slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert scc_standin.requests_to("ListFindings") == []


# -- list -----------------------------------------------------------------------------------


def test_list_shows_active_findings_newest_first_linking_to_posted_messages(
    services: Any, slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    ts = _post_sample(services, slack)

    ack = _command(slack_requests, "list")

    assert "Listing findings" in _text(ack)
    answer = _answers(slack)[0]
    request = scc_standin.requests_to("ListFindings")[0]
    assert request.parent == f"{ORG}/sources/-/locations/global"
    assert request.filter == 'state="ACTIVE"'
    assert request.order_by == "event_time desc"
    assert request.page_size == 10
    blocks = _by_id(answer["blocks"])
    assert "*Findings 1–6* of 6" in blocks[CommandBlock.LIST_HEADER]["text"]["text"]
    lines = [blocks[f"{CommandBlock.LIST_ITEMS}.{n}"]["text"]["text"] for n in range(1, 7)]
    # Newest first: the added binary (13:05) leads, the malicious python (10:14) is last.
    assert "Execution: Added Binary Executed" in lines[0]
    posted = [line for line in lines if "/archives/" in line]
    assert len(posted) == 1
    permalink = f"/archives/{CHANNEL}/p{ts.replace('.', '')}|Execution: Malicious Python executed>"
    assert permalink in posted[0]
    assert sum("opens the console" in line for line in lines) == 5
    assert blocks[CommandBlock.LIST_MORE]["type"] == "context"
    assert live_tokens(answer["text"], answer["blocks"]) == []


def test_list_sends_the_filter_built_from_the_tokens(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    _command(
        slack_requests,
        "list severity=critical category=Reverse\u00a0Shell project=987654321098",
    )

    answer = _answers(slack)[0]
    assert scc_standin.requests_to("ListFindings")[0].filter == (
        'state="ACTIVE" AND severity="CRITICAL" AND category:"Reverse Shell" AND '
        'resource.project_name="//cloudresourcemanager.googleapis.com/projects/987654321098"'
    )
    assert "*Findings 1–1* of 1" in _text(answer)
    assert "Reverse Shell" in _text(answer)


def test_list_since_bounds_the_event_time(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    _command(slack_requests, "list since=7d state=INACTIVE")

    _answers(slack)
    sent = scc_standin.requests_to("ListFindings")[0].filter
    prefix = 'state="INACTIVE" AND event_time >= "'
    assert sent.startswith(prefix)
    bound = datetime.strptime(sent[len(prefix) : -1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(bound - (before - timedelta(days=7))) <= timedelta(seconds=5)


def test_list_rejects_bad_tokens_before_any_call(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    for typed in ("severity=URGENT", "state=open", "since=forever", "project=Acme_Prod", "x=1"):
        ack = _command(slack_requests, f"list {typed}")

        assert "Try `list severity=CRITICAL,HIGH" in _text(ack), typed
    assert scc_standin.requests_to("ListFindings") == []
    assert slack.responses.get("r1") is None


def test_more_shows_the_next_page_with_the_same_filter(
    slack_requests: Any, slack: Any, scc_standin: Any
) -> None:
    template = scc_standin.finding(V2)
    for n in range(8):
        copy = securitycenter_v2.Finding(template)
        copy.name = V2.replace(FID, f"{n:032d}")
        scc_standin.add_finding(copy)
    _command(slack_requests, "list severity=CRITICAL")
    first = _answers(slack)[0]
    more = _by_id(first["blocks"])[CommandBlock.LIST_MORE]["elements"][0]
    assert more["action_id"] == CommandAction.MORE

    slack_requests.block_action(user=ALICE, action_id=CommandAction.MORE, value=more["value"])

    second = _answers(slack, 2)[1]
    requests = scc_standin.requests_to("ListFindings")
    assert requests[1].filter == requests[0].filter == 'state="ACTIVE" AND severity="CRITICAL"'
    assert requests[0].page_token == ""
    assert requests[1].page_token != ""
    assert second["replace_original"] is True
    assert "*Findings 11–12* of 12" in _text(second)


# -- help and access -------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "note"), [("", ""), ("help", ""), ("frobnicate", "frobnicate")])
def test_help_and_unknown_subcommands_get_usage(
    slack_requests: Any, slack: Any, scc_standin: Any, typed: str, note: str
) -> None:
    ack = _command(slack_requests, typed)

    blocks = _by_id(ack["blocks"])
    assert "/scc list severity=CRITICAL,HIGH since=24h" in blocks[CommandBlock.HELP]["text"]["text"]
    if note:
        assert f"I don't know `{note}`" in blocks[CommandBlock.NOTICE]["text"]["text"]
    else:
        assert CommandBlock.NOTICE not in blocks
    assert scc_standin.requests_to("ListFindings") == []


class TestRestricted:
    @pytest.fixture
    def settings_overrides(self, scc_standin: Any) -> dict[str, Any]:
        return {
            "scc_emulator_host": scc_standin.address,
            "scc_parent": ORG,
            "command_users": ALICE,
            "command_channels": CHANNEL,
        }

    def test_listed_user_in_listed_channel_may_use_it(
        self, slack_requests: Any, slack: Any
    ) -> None:
        _command(slack_requests, f"show {V2}")

        assert CommandBlock.SHARE in _by_id(_answers(slack)[0]["blocks"])

    @pytest.mark.parametrize(("user", "channel"), [("U0MALLORY", CHANNEL), (ALICE, "C0RANDOM")])
    def test_others_are_refused_before_any_call(
        self, slack_requests: Any, slack: Any, scc_standin: Any, user: str, channel: str
    ) -> None:
        ack = _command(slack_requests, f"show {V2}", user=user, channel=channel)

        assert "may not use this command here" in _text(ack)
        assert scc_standin.requests_to("ListFindings") == []

    def test_share_by_someone_else_is_refused(
        self, slack_requests: Any, slack: Any, scc_standin: Any
    ) -> None:
        slack_requests.block_action(
            user="U0MALLORY", action_id=CommandAction.SHARE, value=finding_ref(V2)
        )

        slack.wait_for(lambda: slack.calls_to("chat.postEphemeral"))
        assert slack.calls_to("chat.postMessage") == []
        assert scc_standin.requests_to("ListFindings") == []
