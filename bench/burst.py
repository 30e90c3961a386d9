"""Benchmark a burst: 1,000 findings over 20 services published at once.

The Slack stand-in enforces one post per second per channel with short bursts and answers
429 with Retry-After beyond that, as Slack does. Measures how long until every finding is
visible in Slack (posted on its own, or counted by a digest) and listed (each grouped
finding named in its digest's thread), how many posts that took, and checks that none was
lost or posted twice. Then runs a naive "one post per finding" client for comparison.

    python bench/burst.py [--findings 1000] [--services 20] [--threshold 3]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import SUBSCRIPTION, TOPIC, make_finding, start_bot, wait_healthy  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler  # noqa: E402

from blocks.ids import DigestBlock, FindingBlock  # noqa: E402
from standins.pubsub import PubSubStandIn  # noqa: E402
from standins.slack_api import SlackStandIn  # noqa: E402

_DIGEST_COUNT = re.compile(r"\*Findings in this digest\*\\n([\d,]+)")
_FINDING_ID = re.compile(r"findings%2F([0-9a-z]{32})")


def visible(slack: SlackStandIn) -> tuple[int, Counter[str], set[str]]:
    """Return (findings visible, individual posts per finding, finding ids listed)."""
    individual: Counter[str] = Counter()
    counted = 0
    listed: set[str] = set()
    for message in list(slack.messages.values()):
        blocks = message.blocks or []
        first = blocks[0].get("block_id") if blocks else None
        if first == FindingBlock.HEADER:
            footer = blocks[-1]["elements"][0]["text"]
            individual[footer.split("`")[1]] += 1
        elif first == DigestBlock.HEADER:
            match = _DIGEST_COUNT.search(str(blocks[1]).replace("\n", "\\n"))
            if match:
                counted += int(match.group(1).replace(",", ""))
        elif message.thread_ts and blocks:
            listed.update(_FINDING_ID.findall(str(blocks)))
    return counted + len(individual), individual, listed


def run_bot(findings: int, services: int, threshold: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        SlackStandIn(rate_limit_per_channel=1.0, burst=3) as slack,
        PubSubStandIn() as pubsub,
    ):
        pubsub.create_topic(TOPIC)
        pubsub.create_subscription(SUBSCRIPTION, TOPIC, ack_deadline_seconds=60)
        process, port = start_bot(
            slack,
            pubsub,
            Path(tmp) / "burst.db",
            {
                "BURST_THRESHOLD": str(threshold),
                # Slack's own pace, which the stand-in enforces here.
                "SLACK_CHANNEL_POSTS_PER_SECOND": "1",
                "SLACK_CHANNEL_BURST": "3",
            },
        )
        try:
            wait_healthy(process, port)
            run_id = uuid.uuid4().hex[:8]
            bodies = [
                make_finding(i, run_id, services=services, scripts=7)[1] for i in range(findings)
            ]
            started = time.monotonic()
            for body in bodies:
                pubsub.publish(TOPIC, body)
            results["visible_s"] = _until(lambda: visible(slack)[0] >= findings, started, 300)
            results["listed_s"] = _until(lambda: _listed_or_posted(slack) >= findings, started, 300)
            _until(lambda: pubsub.outstanding(SUBSCRIPTION) == 0, started, 120)
            count, individual, listed = visible(slack)
            results["visible"] = count
            results["individual_posts"] = len(individual)
            results["duplicated"] = sum(n - 1 for n in individual.values() if n > 1) + len(
                listed & {key.rsplit("/", 1)[-1] for key in individual}
            )
            posts = slack.calls_to("chat.postMessage", ok=True)
            results["posts"] = len(posts)
            results["digests"] = sum(
                1
                for call in posts
                if call.params["blocks"][0].get("block_id") == DigestBlock.HEADER
            )
            results["updates"] = len(slack.calls_to("chat.update", ok=True))
            results["ratelimited"] = sum(1 for call in slack.calls if call.status == 429)
            results["lost"] = findings - len(set(individual) | _full_keys(listed, individual))
            results["unacked"] = pubsub.outstanding(SUBSCRIPTION)
        finally:
            process.terminate()
            process.wait(timeout=20)
    return results


def _listed_or_posted(slack: SlackStandIn) -> int:
    _, individual, listed = visible(slack)
    return len(individual) + len(listed)


def _full_keys(listed: set[str], individual: Counter[str]) -> set[str]:
    # Listed ids are the last path segment; individual posts carry full names.
    return {key for key in individual} | {f"id:{finding_id}" for finding_id in listed}


def _until(predicate: Any, started: float, timeout: float) -> float:
    while not predicate():
        if time.monotonic() - started > timeout:
            return float("nan")
        time.sleep(0.1)
    return time.monotonic() - started


def run_naive(findings: int, services: int, budget: float) -> dict[str, Any]:
    """Post one message per finding through slack_sdk, honouring Retry-After."""
    with SlackStandIn(rate_limit_per_channel=1.0, burst=3) as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        client.retry_handlers = [RateLimitErrorRetryHandler(max_retry_count=100)]
        run_id = uuid.uuid4().hex[:8]
        started = time.monotonic()
        posted = 0
        for i in range(findings):
            if time.monotonic() - started > budget:
                break
            make_finding(i, run_id, services=services)
            client.chat_postMessage(channel="C0SECURITY", text=f"finding {i}")
            posted += 1
        elapsed = time.monotonic() - started
    return {"posted": posted, "elapsed_s": elapsed, "projected_s": elapsed / posted * findings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=1000)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--threshold", type=int, default=1)
    parser.add_argument("--naive-budget", type=float, default=30.0)
    args = parser.parse_args()
    bot = run_bot(args.findings, args.services, args.threshold)
    print(
        f"burst of {args.findings} findings over {args.services} services, "
        f"BURST_THRESHOLD={args.threshold}, Slack at 1 post/s per channel:"
    )
    print(f"  all visible in Slack after   {bot['visible_s']:.1f} s   (goal ≤ 60 s)")
    print(f"  all listed in threads after  {bot['listed_s']:.1f} s")
    print(
        f"  posts {bot['posts']} ({bot['individual_posts']} findings on their own, "
        f"{bot['digests']} digests, the rest thread listings), edits {bot['updates']}, "
        f"429 answers {bot['ratelimited']}"
    )
    print(f"  lost {bot['lost']}, duplicated {bot['duplicated']}, unacknowledged {bot['unacked']}")
    naive = run_naive(args.findings, args.services, args.naive_budget)
    print(
        f"naive one post per finding: {naive['posted']} posted in {naive['elapsed_s']:.0f} s, "
        f"all {args.findings} would take ≈ {naive['projected_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
