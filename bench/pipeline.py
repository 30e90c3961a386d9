"""Benchmark the ingestion path: Pub/Sub stand-in → bot process → Slack stand-in.

Runs the real bot (`python -m bot serve`) as a child process, so its start time and memory
are its own, against stand-ins served from this process. Prints figures; asserts nothing.

    python bench/pipeline.py [--findings 2000] [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from standins.pubsub import PubSubStandIn  # noqa: E402
from standins.slack_api import SlackStandIn  # noqa: E402

TOPIC = "projects/acme-sec/topics/scc-findings"
SUBSCRIPTION = "projects/acme-sec/subscriptions/scc-findings-bot"
SAMPLE = json.loads((ROOT / "bot" / "samples" / "malicious_python_v2.json").read_text())


def make_finding(
    index: int, run: str, *, services: int = 50, scripts: int | None = None
) -> tuple[str, bytes]:
    """Return (finding name, notification) for a distinct finding.

    Args:
        services: how many Cloud Run services the findings are spread over.
        scripts: how many distinct scripts they share (None: each its own).
    """
    notification = copy.deepcopy(SAMPLE)
    finding = notification["finding"]
    finding_id = f"{run}{index:08d}".ljust(32, "0")[:32]
    finding["name"] = finding["name"].rsplit("/", 1)[0] + "/" + finding_id
    script = index if scripts is None else index % scripts
    finding["processes"][0]["script"]["sha256"] = f"{script:064x}"
    finding["resourceName"] = finding["resourceName"].replace(
        "payments-api", f"svc-{index % services:02d}"
    )
    return finding["name"], json.dumps(notification).encode()


def posted_names(slack: SlackStandIn) -> dict[str, float]:
    """Map finding name → when Slack accepted its post."""
    posted = {}
    for call in list(slack.calls):
        if call.method != "chat.postMessage" or not call.response.get("ok"):
            continue
        footer = call.params["blocks"][-1]["elements"][0]["text"]
        posted[footer.split("`")[1]] = call.at
    return posted


def start_bot(
    slack: SlackStandIn,
    pubsub: PubSubStandIn,
    database: Path,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    port = str(_free_port())
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": slack.base_url,
        "SLACK_CHANNEL": "C0SECURITY",
        "DATABASE_URL": f"sqlite:///{database}",
        "PUBSUB_SUBSCRIPTION": SUBSCRIPTION,
        "PUBSUB_EMULATOR_HOST": pubsub.host,
        "PUBSUB_MAX_MESSAGES": "100",
        "PORT": port,
        "LOG_LEVEL": "WARNING",
        # Throughput of single posts; bench/burst.py measures digests.
        "BURST_THRESHOLD": "0",
        # The bot's own capacity: the stand-in here does not enforce Slack's channel rate.
        "SLACK_CHANNEL_POSTS_PER_SECOND": "10000",
        "SLACK_CHANNEL_BURST": "10000",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, port


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(process: subprocess.Popen[str], port: str, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"bot exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                return time.monotonic() - started
        except requests.ConnectionError:
            pass
        time.sleep(0.01)
    raise SystemExit("bot did not become healthy")


def peak_rss_mb(pid: int) -> float:
    """Return the peak resident set size of a process tree's main process (VmHWM)."""
    total = 0.0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(part) for part in text.split()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(findings: int, rate: float, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, SlackStandIn() as slack, PubSubStandIn() as pubsub:
        pubsub.create_topic(TOPIC)
        pubsub.create_subscription(SUBSCRIPTION, TOPIC, ack_deadline_seconds=60)
        process, port = start_bot(slack, pubsub, Path(tmp) / "bench.db")
        try:
            results["start_to_healthy_s"] = wait_healthy(process, port)

            # Throughput: a backlog of distinct findings published at once.
            run_id = uuid.uuid4().hex[:8]
            bodies = [make_finding(i, run_id)[1] for i in range(findings)]
            started = time.monotonic()
            for body in bodies:
                pubsub.publish(TOPIC, body)
            slack.wait_for(
                lambda: len(slack.calls_to("chat.postMessage", ok=True)) >= findings,
                timeout=600,
            )
            elapsed = time.monotonic() - started
            results["throughput_findings"] = findings
            results["throughput_s"] = elapsed
            results["throughput_per_s"] = findings / elapsed

            # Latency at a steady rate.
            slack.reset()
            run_id = uuid.uuid4().hex[:8]
            count = int(rate * seconds)
            published: dict[str, float] = {}
            next_at = time.monotonic()
            for i in range(count):
                name, body = make_finding(i, run_id)
                while time.monotonic() < next_at:
                    time.sleep(0.0005)
                published[name] = time.monotonic()
                pubsub.publish(TOPIC, body)
                next_at += 1 / rate
            slack.wait_for(lambda: len(posted_names(slack)) >= count, timeout=120)
            posted = posted_names(slack)
            latencies = [(posted[name] - at) * 1000 for name, at in published.items()]
            results["latency_findings"] = count
            results["latency_p50_ms"] = statistics.median(latencies)
            results["latency_p99_ms"] = percentile(latencies, 0.99)
            results["latency_max_ms"] = max(latencies)
            results["peak_rss_mb"] = peak_rss_mb(process.pid)
            results["posts_total"] = findings + count
            results["outstanding"] = pubsub.outstanding(SUBSCRIPTION)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results = run(args.findings, args.rate, args.seconds)
    print(f"start to healthy:     {results['start_to_healthy_s']:.2f} s   (target ≤ 2 s)")
    print(
        f"throughput:           {results['throughput_per_s']:.0f} findings/s "
        f"({results['throughput_findings']} in {results['throughput_s']:.1f} s; target ≥ 200)"
    )
    print(
        f"latency at {args.rate:.0f}/s:     p50 {results['latency_p50_ms']:.1f} ms, "
        f"p99 {results['latency_p99_ms']:.1f} ms, max {results['latency_max_ms']:.1f} ms "
        f"({results['latency_findings']} findings; targets ≤ 50 / ≤ 150 ms)"
    )
    print(f"peak RSS of the bot:  {results['peak_rss_mb']:.0f} MB   (target ≤ 200 MB)")
    print(f"left unacknowledged:  {results['outstanding']}")


if __name__ == "__main__":
    main()
