"""Benchmark button acknowledgement: 20 people clicking at once on a real bot process.

Slack gives an app 3 seconds to acknowledge an interaction. The bot acknowledges first and
works after, so the acknowledgement time is the HTTP response time of /slack/events for
signed block_actions requests. Prints percentiles; asserts nothing.

    python bench/buttons.py [--rounds 10] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import percentile, start_bot, wait_healthy  # noqa: E402

from bot.finding import parse_notification  # noqa: E402
from bot.refs import finding_ref  # noqa: E402
from standins.cloud_logging import LoggingStandIn  # noqa: E402
from standins.cloud_run import CloudRunStandIn  # noqa: E402
from standins.pubsub import PubSubStandIn  # noqa: E402
from standins.scc import SccStandIn  # noqa: E402
from standins.slack_api import SlackStandIn  # noqa: E402
from standins.slack_requests import SlackRequests  # noqa: E402

SAMPLE = ROOT / "bot" / "samples" / "malicious_python_v2.json"
TOPIC = "projects/acme-sec/topics/scc-findings"
SUBSCRIPTION = "projects/acme-sec/subscriptions/scc-findings-bot"
BUTTONS = ("investigate.related", "investigate.container", "investigate.logs", "investigate.mitre")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    scc = SccStandIn()
    scc.add_notification_json(SAMPLE.read_text())
    logs = LoggingStandIn()
    logs.sample_entries_for_payments_api()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SlackStandIn() as slack,
        PubSubStandIn() as pubsub,
        scc,
        CloudRunStandIn.sample_payments_api() as run,
        logs,
    ):
        pubsub.create_topic(TOPIC)
        pubsub.create_subscription(SUBSCRIPTION, TOPIC)
        process, port = start_bot(
            slack,
            pubsub,
            Path(tmp) / "buttons.db",
            {
                "SLACK_SIGNING_SECRET": "bench-signing-secret",
                "SCC_EMULATOR_HOST": scc.address,
                "RUN_EMULATOR_HOST": run.address,
                "LOGGING_EMULATOR_HOST": logs.address,
                "SCC_PARENT": "organizations/123456789012",
            },
        )
        try:
            wait_healthy(process, port)
            pubsub.publish(TOPIC, SAMPLE.read_bytes())
            slack.wait_for(lambda: bool(slack.calls_to("chat.postMessage", ok=True)), 30)
            ts = slack.calls_to("chat.postMessage", ok=True)[0].response["ts"]
            value = finding_ref(parse_notification(SAMPLE.read_bytes()).key)
            clicks = SlackRequests(
                f"http://127.0.0.1:{port}",
                "bench-signing-secret",
                response_url=slack.response_url("bench"),
            )
            times: list[float] = []
            lock = threading.Lock()

            def click(index: int) -> None:
                started = time.perf_counter()
                response = clicks.block_action(
                    user=f"U0USER{index:03d}",
                    action_id=BUTTONS[index % len(BUTTONS)],
                    value=value,
                    message_ts=ts,
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"click answered {response.status_code}")
                with lock:
                    times.append(elapsed)

            for _ in range(args.rounds):
                threads = [
                    threading.Thread(target=click, args=(i,)) for i in range(args.concurrency)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            process.terminate()
            process.wait(timeout=20)
    print(
        f"button acknowledgement, {args.concurrency} concurrent clicks × {args.rounds} rounds: "
        f"p50 {statistics.median(times):.0f} ms, p99 {percentile(times, 0.99):.0f} ms, "
        f"max {max(times):.0f} ms   (goal p99 ≤ 100 ms)"
    )


if __name__ == "__main__":
    main()
