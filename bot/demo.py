"""The offline demo: the real bot against local stand-ins, on the bundled sample findings.

Everything the bot does in production runs here unchanged: findings are published to a
Pub/Sub stand-in, pulled by the streaming worker, deduplicated in a SQLite store and posted
through slack_sdk to a Slack Web API stand-in; buttons are clicked with signed requests
against the bot's own HTTP endpoint, which calls Google Cloud stand-ins over gRPC.
"""

from __future__ import annotations

import html
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr
from werkzeug.serving import make_server

from bot.config import Settings
from bot.runtime import Runtime, start_runtime

logger = logging.getLogger(__name__)

SAMPLES = Path(__file__).resolve().parent / "samples"
PROJECT = "projects/acme-sec"
TOPIC = f"{PROJECT}/topics/scc-findings"
SUBSCRIPTION = f"{PROJECT}/subscriptions/scc-findings-bot"
CHANNEL = "C0SECURITY"
SIGNING_SECRET = "demo-signing-secret"  # noqa: S105 - the stand-ins' own secret
RESPONDER, APPROVER = "U0RESPONDER", "U0APPROVER"
BUILDER = "https://app.slack.com/block-kit-builder/#"
MAIN_SAMPLE = "malicious_python_v2.json"
VT_KEY = "demo-virustotal-key"


class DemoWorld:
    """The running demo: stand-ins, the bot, and a way to click its buttons."""

    def __init__(self, stack: ExitStack, out: Path) -> None:
        from standins.cloud_logging import LoggingStandIn
        from standins.cloud_run import CloudRunStandIn
        from standins.pubsub import PubSubStandIn
        from standins.scc import SccStandIn
        from standins.slack_api import SlackStandIn

        self.out = out
        self.slack = stack.enter_context(SlackStandIn())
        self.slack.add_user(RESPONDER, name="riley.responder", tz="Europe/Paris")
        self.slack.add_user(APPROVER, name="alex.approver", tz="America/New_York")
        self.pubsub = stack.enter_context(PubSubStandIn())
        self.pubsub.create_topic(TOPIC)
        self.pubsub.create_subscription(SUBSCRIPTION, TOPIC)
        scc = SccStandIn()
        for path in sorted(SAMPLES.glob("*_v2.json")):
            scc.add_notification_json(path.read_text())
        self.scc = stack.enter_context(scc)
        self.run = stack.enter_context(CloudRunStandIn.sample_payments_api())
        logs = LoggingStandIn()
        logs.sample_entries_for_payments_api()
        self.logging = stack.enter_context(logs)
        from standins.virustotal import VirusTotalStandIn

        vt = VirusTotalStandIn(api_key=VT_KEY)
        vt.add_file(
            _script_sha(MAIN_SAMPLE),
            stats={"malicious": 41, "suspicious": 3, "undetected": 22, "harmless": 0},
            names=["update.py", "dropper.py"],
            first_submission_date=1778400000,
            last_analysis_date=1778580000,
        )
        self.virustotal = stack.enter_context(vt)
        self.database = out / "demo.db"
        self.database.unlink(missing_ok=True)
        # The Pub/Sub client reads its emulator host from the environment only.
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub.host
        self.settings = Settings(
            slack_bot_token=SecretStr(self.slack.bot_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=self.slack.base_url,
            slack_channel=CHANNEL,
            database_url=f"sqlite:///{self.database}",
            pubsub_subscription=SUBSCRIPTION,
            pubsub_emulator_host=self.pubsub.host,
            scc_emulator_host=self.scc.address,
            run_emulator_host=self.run.address,
            logging_emulator_host=self.logging.address,
            scc_parent="organizations/123456789012",
            approvers=[APPROVER],
            responders=[RESPONDER],
            vt_api_key=SecretStr(VT_KEY),
            # The samples include two of one kind on one service; show each in full, and
            # show a digest with the burst below.
            burst_threshold=3,
            vt_api_url=self.virustotal.url,
        )
        self.runtime: Runtime = start_runtime(self.settings)
        stack.callback(self.runtime.stop)
        self.url = stack.enter_context(_serve(self.runtime))

        from standins.slack_requests import SlackRequests

        self.requests = SlackRequests(
            self.url, SIGNING_SECRET, response_url=self.slack.response_url("demo")
        )

    def publish(self, data: bytes) -> None:
        self.pubsub.publish(TOPIC, data)

    def wait(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        self.slack.wait_for(predicate, timeout=timeout)

    def finding_message(self, sample: str) -> Any:
        """Return the stand-in's copy of the message posted for a bundled sample."""
        record_key = _key_of(SAMPLES / sample)
        stored = self.runtime.services.store.get(record_key)
        assert stored is not None and stored.channel and stored.message_ts
        return self.slack.messages[(stored.channel, stored.message_ts)]


@contextmanager
def _serve(runtime: Runtime) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, runtime.http, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _script_sha(sample: str) -> str:
    from bot.finding import parse_notification

    return parse_notification((SAMPLES / sample).read_bytes()).script_sha256


def _key_of(path: Path) -> str:
    from bot.finding import parse_notification

    return parse_notification(path.read_bytes()).key


def run_demo(out: Path) -> int:
    """Run the demo, print what Slack shows, and write the Block Kit JSON under ``out``."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The demo's own HTTP server logs every request; the narrative says what happened.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ExitStack() as stack:
        world = DemoWorld(stack, out)
        _banner(f"Bot running on {world.url}; stand-ins on 127.0.0.1; database {world.database}")
        # The headline finding first, then the others.
        samples = sorted(SAMPLES.glob("*.json"), key=lambda p: (p.name != MAIN_SAMPLE, p.name))
        for index, path in enumerate(samples):
            world.publish(path.read_bytes())
            if index == 0:
                # Let the headline finding arrive first, as it would in a real incident.
                world.wait(lambda: bool(world.slack.calls_to("chat.postMessage", ok=True)))
        # SCC re-sends a notification on every update; the bot must post each finding once.
        world.publish((SAMPLES / MAIN_SAMPLE).read_bytes())
        world.publish(b'{"finding": "this is not a finding"}')
        world.wait(lambda: len(world.slack.calls_to("chat.postMessage", ok=True)) >= len(samples))
        world.wait(lambda: world.pubsub.outstanding(SUBSCRIPTION) == 0)
        posts = world.slack.calls_to("chat.postMessage", ok=True)
        print(
            f"\nPublished {len(samples) + 2} notifications ({len(samples)} findings, "
            f"1 duplicate, 1 unreadable): {len(posts)} messages posted.\n"
        )
        print(
            "Shown here with Slack's escapes undone and links as ⟨url⟩; in Slack, text from a\n"
            "finding (such as <!here> in the hostile sample) is escaped and stays inert.\n"
        )
        for index, call in enumerate(posts, 1):
            _show_message(index, call.params, out)
        _state_change(world)
        _investigate(world)
        _contain(world)
        _burst(world)
    print(f"\nDone in {time.monotonic() - started:.1f} s. Block Kit JSON is in {out}/.")
    return 0


def _state_change(world: DemoWorld) -> None:
    _banner("SCC marks the malicious-Python finding inactive: the message is edited")
    notification = json.loads((SAMPLES / "malicious_python_v2.json").read_text())
    notification["finding"]["state"] = "INACTIVE"
    world.publish(json.dumps(notification).encode())
    message = world.finding_message(MAIN_SAMPLE)
    # The edit comes first, then the reply that says what changed.
    world.wait(lambda: bool(world.slack.thread(message.channel, message.ts)))
    for reply in world.slack.thread(message.channel, message.ts):
        print(render_text(reply.blocks, reply.text))


def _investigate(world: DemoWorld) -> None:
    from blocks.ids import InvestigateAction
    from bot.refs import finding_ref

    message = world.finding_message(MAIN_SAMPLE)
    value = finding_ref(_key_of(SAMPLES / MAIN_SAMPLE))
    for action, title in (
        (InvestigateAction.RELATED, "Related findings"),
        (InvestigateAction.CONTAINER, "Container settings"),
        (InvestigateAction.LOGS, "Logs"),
        (InvestigateAction.VIRUSTOTAL, "VirusTotal"),
        (InvestigateAction.MITRE, "MITRE ATT&CK"),
    ):
        _banner(f"{RESPONDER} clicks [{title}]: the answer lands in the finding's thread")
        _click_and_wait(world, message, action, value)
        reply = world.slack.thread(message.channel, message.ts)[-1]
        print(render_text(reply.blocks, reply.text))


def _click_and_wait(world: DemoWorld, message: Any, action: str, value: str) -> None:
    before = len(world.slack.thread(message.channel, message.ts))
    world.requests.block_action(
        user=RESPONDER, action_id=action, value=value, message_ts=message.ts
    )
    world.wait(lambda: len(world.slack.thread(message.channel, message.ts)) > before)


def _contain(world: DemoWorld) -> None:
    from blocks.ids import ContainAction, ContainBlock, ContainCallback
    from bot.refs import finding_ref

    message = world.finding_message(MAIN_SAMPLE)
    key = _key_of(SAMPLES / MAIN_SAMPLE)
    thread = lambda: world.slack.thread(message.channel, message.ts)  # noqa: E731

    _banner(f"{RESPONDER} clicks [Contain…]: a modal shows each plan from the live service")
    world.requests.block_action(
        user=RESPONDER, action_id=ContainAction.OPEN, value=finding_ref(key), message_ts=message.ts
    )
    world.wait(lambda: bool(world.slack.views))
    view = list(world.slack.views.values())[-1]
    print(render_text(view.get("blocks", [])))

    _banner(f"{RESPONDER} asks to move traffic off the revision and restrict ingress")
    before = len(thread())
    world.requests.view_submission(
        user=RESPONDER,
        callback_id=ContainCallback.MODAL,
        private_metadata=finding_ref(key),
        values={
            ContainBlock.ACTIONS: {
                ContainAction.CHOOSE: {
                    "type": "checkboxes",
                    "selected_options": [
                        {"value": "rollback_traffic"},
                        {"value": "ingress_internal"},
                    ],
                }
            },
            ContainBlock.REASON: {
                ContainAction.REASON: {
                    "type": "plain_text_input",
                    "value": "malicious script downloading a second stage",
                }
            },
        },
    )
    world.wait(lambda: len(thread()) > before)
    request = thread()[-1]
    print(render_text(request.blocks, request.text))
    request_id = _button_value(request.blocks, ContainAction.APPROVE)

    _banner(f"{RESPONDER} tries to approve their own request: refused")
    world.requests.block_action(
        user=RESPONDER, action_id=ContainAction.APPROVE, value=request_id, message_ts=request.ts
    )
    world.wait(lambda: any(e.user == RESPONDER for e in world.slack.ephemerals))
    print("    " + [e.text for e in world.slack.ephemerals if e.user == RESPONDER][-1])

    _banner(f"{APPROVER} approves: the bot executes once and shows the outcome")
    before = len(thread())
    world.requests.block_action(
        user=APPROVER, action_id=ContainAction.APPROVE, value=request_id, message_ts=request.ts
    )
    world.wait(lambda: len(thread()) > before)
    for reply in thread()[before:]:
        print(render_text(reply.blocks, reply.text))
    updates = len(world.run.requests_to("UpdateService"))
    print(f"\n    Cloud Run received {updates} UpdateService request(s).")

    _banner(f"{APPROVER} clicks [Undo]: the previous traffic and ingress come back")
    before = len(thread())
    world.requests.block_action(
        user=APPROVER, action_id=ContainAction.UNDO, value=request_id, message_ts=request.ts
    )
    world.wait(lambda: len(thread()) > before)
    for reply in thread()[before:]:
        print(render_text(reply.blocks, reply.text))


def _burst(world: DemoWorld) -> None:
    from blocks.ids import DigestBlock

    _banner("A burst: 40 findings on one service within a minute become one digest")
    posts_before = len(world.slack.calls_to("chat.postMessage", ok=True))
    base = json.loads((SAMPLES / "malicious_python_v1.json").read_text())
    for index in range(40):
        notification = json.loads(json.dumps(base))
        finding = notification["finding"]
        finding["name"] = finding["name"][:-6] + f"{index:06d}"
        finding["event_time"] = f"2026-05-13T08:00:{index:02d}Z"
        finding["processes"][0]["script"]["sha256"] = f"{index % 3:064x}"
        world.publish(json.dumps(notification).encode())
    world.wait(lambda: world.pubsub.outstanding(SUBSCRIPTION) == 0)
    grouped = world.runtime.services.store.count_by_status().get("grouped", 0)

    def digest() -> Any:
        for message in list(world.slack.messages.values()):
            header = (message.blocks or [{}])[0]
            if header.get("block_id") == DigestBlock.HEADER and (
                f"Burst of {grouped} findings" in header["text"]["text"]
            ):
                return message
        return None

    world.wait(lambda: digest() is not None)
    shown = digest()
    print(render_text(shown.blocks, shown.text))
    world.wait(lambda: bool(world.slack.thread(shown.channel, shown.ts)), timeout=20)
    listing = world.slack.thread(shown.channel, shown.ts)[0]
    print(f"\n    In its thread: {listing.text}, each linked to the console; the first:")
    print("\n".join(render_text(listing.blocks).splitlines()[:2]))
    posts = len(world.slack.calls_to("chat.postMessage", ok=True)) - posts_before
    print(
        f"\n    40 findings: {40 - grouped} posted alone, {grouped} in one digest; "
        f"{posts} messages in all."
    )


def _button_value(blocks: list[dict[str, Any]], action_id: str) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise LookupError(f"no {action_id} button")


def _show_message(index: int, params: dict[str, Any], out: Path) -> None:
    blocks = params["blocks"]
    payload = {"blocks": blocks}
    path = out / f"message-{index:02d}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    _banner(f"Message {index} in #{params['channel']}  (notification text: {params['text']})")
    print(render_text(blocks, params["text"]))
    print(f"\n  Block Kit JSON: {path}")
    link = BUILDER + quote(json.dumps(payload, separators=(",", ":")), safe="")
    print(f"  Block Kit Builder: {link[:120]}… ({len(link):,} characters; full link in the JSON)")
    path.with_suffix(".builder-url.txt").write_text(link + "\n")


def render_text(blocks: list[dict[str, Any]], fallback: str = "") -> str:
    """Render blocks roughly as Slack shows them, for a terminal."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"\n  ▌ {block['text']['text']}")
        elif kind == "section":
            if "text" in block:
                lines.extend(_indent(_readable(block["text"]["text"])))
            for field in block.get("fields", []):
                lines.extend(_indent(_readable(field["text"])))
        elif kind == "context":
            for element in block.get("elements", []):
                if "text" in element:
                    lines.extend(_indent(_readable(element["text"]), "    · "))
        elif kind == "actions":
            labels = [f"[{element['text']['text']}]" for element in block.get("elements", [])]
            lines.append("  " + " ".join(labels))
        elif kind == "divider":
            lines.append("  " + "─" * 60)
    return "\n".join(lines) if lines else fallback


def _readable(mrkdwn: str) -> str:
    import re

    # <url|label> → label (url); <!date^…|fallback> → fallback; then entities.
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", mrkdwn)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"\2 ⟨\1⟩", text)
    return html.unescape(text)


def _indent(text: str, prefix: str = "    ") -> list[str]:
    out = []
    for line in text.splitlines() or [""]:
        out.append(prefix + (line if len(line) <= 160 else line[:157] + "…"))
    return out


def _banner(title: str) -> None:
    print("\n" + "═" * 78 + f"\n {title}\n" + "═" * 78)
