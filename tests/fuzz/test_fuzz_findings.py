"""Property tests: whatever SCC (or an attacker) sends, parsing fails only with our own
error, and every message the bot builds is within Slack's limits with nothing live in it."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.finding import MessageContext, build_finding_message
from bot.finding import NotificationParseError, parse_notification
from standins.block_kit import validate_blocks
from tests.conftest import SAMPLES
from tests.slack_safety import code_fences_balanced, live_tokens

BASES = [json.loads(path.read_text()) for path in sorted(SAMPLES.glob("*.json"))]

# Text that stresses escaping: Slack control sequences, backticks, invisible and
# combining characters, astral emoji, surrogates that JSON can carry.
NASTY = st.sampled_from(
    [
        "<!channel>",
        "<!here|here>",
        "<@U024BE7LH>",
        "<#C024BE7LR|general>",
        "<!subteam^S123|@team>",
        "<https://evil.example|click>",
        "&lt;!here&gt;",
        "```",
        "`",
        "\u202e",
        "\u200b",
        "\u2066",
        "\ufeff",
        "e\u0301",
        "\U0001f469\u200d\U0001f4bb",
        "\x00",
        "\x1b[31m",
        "\r\n",
        "*bold*",
        ":skull:",
        "http://evil.example.com/x",
        "&",
        ">",
    ]
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(NASTY, st.text(max_size=20)), max_size=30).map("".join),
    st.integers(min_value=1, max_value=60_000).map(lambda n: "A<`&" * n),
)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


@st.composite
def mutated_notifications(draw: st.DrawFn) -> str:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    paths = [p for p in _paths(document) if p and p[-1] not in ("name",)]
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        path = draw(st.sampled_from(paths))
        try:
            _set(document, path, draw(st.one_of(TEXT, JSON_VALUE)))
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(document)


def _check_message(raw: str) -> None:
    try:
        record = parse_notification(raw)
    except NotificationParseError:
        return
    message = build_finding_message(
        record,
        MessageContext(occurrences=3, same_script_elsewhere=(("service x <!here>", ""),)),
    )
    assert validate_blocks(message.blocks) == []
    assert live_tokens(message.text, message.blocks) == []
    assert code_fences_balanced(message.blocks)
    assert len(message.text) <= 300
    flat = json.dumps(message.blocks, ensure_ascii=False)
    assert "\u202e" not in flat and "\u200b" not in flat


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_notifications())
def test_mutated_findings_render_safely(raw: str) -> None:
    _check_message(raw)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_our_error(data: bytes) -> None:
    try:
        record = parse_notification(data)
    except NotificationParseError as exc:
        reason = exc.reason
    else:
        reason = record.key
    assert reason


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    category=TEXT,
    path=TEXT,
    args=st.lists(TEXT, max_size=8),
    contents=TEXT,
    description=TEXT,
)
def test_hostile_text_in_every_shown_field(
    category: str, path: str, args: list[str], contents: str, description: str
) -> None:
    document = copy.deepcopy(BASES[0])
    finding = document["finding"]
    finding["category"] = category
    finding["description"] = description
    process = finding.setdefault("processes", [{}])[0]
    process["args"] = args
    process.setdefault("script", {})
    process["script"]["path"] = path
    process["script"]["contents"] = contents
    finding["parentDisplayName"] = category
    document.setdefault("resource", {})["displayName"] = path
    _check_message(json.dumps(document))
