from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.__main__ import main
from tests.slack_safety import live_tokens


def test_demo_posts_every_sample_once_and_writes_block_kit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"

    assert main(["demo", "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    summary = "Published 9 notifications (7 findings, 1 duplicate, 1 unreadable): 7 messages"
    assert summary in printed
    assert "*State*: Active → Inactive" in printed
    # Each investigation button answered in the thread.
    assert "*Related findings* on the same resource within ±1 h of the event: *2*" in printed
    assert "all traffic (internet)" in printed and "`allUsers` may invoke it" in printed
    assert "webhook signature mismatch" in printed
    assert "*41* of 66 engines say malicious" in printed
    assert "The adversary is trying to run malicious code." in printed
    # Containment: refused for the requester, done once after a second person, undone.
    assert "A second person must approve: not the one who asked." in printed
    assert "Cloud Run received 1 UpdateService request(s)." in printed
    assert "Undone by <@U0APPROVER>" in printed
    messages = sorted(out.glob("message-*.json"))
    assert len(messages) == 7
    first = json.loads(messages[0].read_text())
    assert first["blocks"][0]["text"]["text"] == (
        ":red_circle: CRITICAL · Execution: Malicious Python executed"
    )
    for path in messages:
        blocks = json.loads(path.read_text())["blocks"]
        assert live_tokens("", blocks) == []
        assert (
            path.with_suffix(".builder-url.txt")
            .read_text()
            .startswith("https://app.slack.com/block-kit-builder/#%7B%22blocks%22")
        )


def test_render_prints_block_kit_for_a_file(
    samples_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(samples_dir / "reverse_shell_v2.json")]) == 0

    rendered = json.loads(capsys.readouterr().out)
    assert rendered["text"] == "CRITICAL Reverse Shell on service payments-api (acme-prod)"
    assert rendered["blocks"][0]["type"] == "header"


def test_render_reports_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")

    assert main(["render", str(bad)]) == 1
    assert "no finding in the notification" in capsys.readouterr().err


def test_serve_without_settings_names_the_missing_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve"]) == 2

    error = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN: is required but not set" in error
    assert "SLACK_SIGNING_SECRET: is required but not set" in error
    assert "SLACK_CHANNEL: is required but not set" in error
