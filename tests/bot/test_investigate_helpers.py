"""The investigation's small parts: filter quoting, parents, the answer cache, rate limits."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserFacingError
from bot.finding import parse_notification
from bot.investigate.answers import AnswerCache
from bot.investigate.query import SHA256, quoted, rfc3339
from bot.investigate.related import findings_parent, related_filter, same_script_filter
from bot.investigate.virustotal import RateLimiter
from tests.conftest import sample_bytes


def test_quoted_refuses_values_outside_the_pattern() -> None:
    assert quoted("ab" * 32, SHA256) == f'"{"ab" * 32}"'
    for hostile in ('x" OR name:"', "AB" * 32, "ab" * 32 + "\n"):
        with pytest.raises(ValueError, match="refusing"):
            quoted(hostile, SHA256)


def test_rfc3339_keeps_milliseconds_in_utc() -> None:
    moment = datetime(2026, 5, 12, 10, 14, 7, 512000, tzinfo=UTC)
    assert rfc3339(moment) == "2026-05-12T10:14:07.512Z"


def test_parent_from_setting_or_finding() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    assert findings_parent("organizations/123", record) == (
        "organizations/123/sources/-/locations/global"
    )
    assert findings_parent("projects/acme-prod/sources/-", record) == "projects/acme-prod/sources/-"
    assert findings_parent(None, record) == (
        "organizations/123456789012/sources/-/locations/global"
    )
    with pytest.raises(UserFacingError, match="SCC_PARENT"):
        findings_parent('organizations/1" OR x', record)


def test_related_filter_never_carries_finding_text() -> None:
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    document["finding"]["resourceName"] = '//run.googleapis.com/x" OR category:"'
    document["resource"]["name"] = document["finding"]["resourceName"]
    record = parse_notification(json.dumps(document))
    with pytest.raises(UserFacingError):
        related_filter(record, timedelta(hours=1))


def test_same_script_filter() -> None:
    since = datetime(2026, 5, 5, tzinfo=UTC)
    assert same_script_filter("ab" * 32, since) == (
        f'processes.script.sha256="{"ab" * 32}" AND event_time >= "2026-05-05T00:00:00.000Z"'
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_answer_cache_reuses_until_it_expires() -> None:
    clock = Clock()
    cache = AnswerCache(300, clock=clock)
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return f"answer {len(calls)}"

    assert cache.get_or_compute("f", "related", compute) == ("answer 1", False)
    clock.now += 299
    assert cache.get_or_compute("f", "related", compute) == ("answer 1", True)
    assert cache.get_or_compute("f", "logs", compute) == ("answer 2", False)
    clock.now += 2
    assert cache.get_or_compute("f", "related", compute) == ("answer 3", False)


def test_answer_cache_does_not_store_failures() -> None:
    cache = AnswerCache(300)

    def fail() -> str:
        raise UserFacingError("no")

    with pytest.raises(UserFacingError):
        cache.get_or_compute("f", "b", fail)
    assert cache.get("f", "b") is None


def test_answer_cache_computes_once_for_concurrent_clicks() -> None:
    cache = AnswerCache(300)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(5)
        return "answer"

    results: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("f", "b", slow)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1
    assert sorted(reused for _, reused in results) == [False, True, True]


def test_rate_limiter_allows_n_a_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(4, clock=clock)
    assert [limiter.try_acquire() for _ in range(4)] == [0.0] * 4
    clock.now += 15
    assert limiter.try_acquire() == pytest.approx(45.0)
    clock.now += 45
    assert limiter.try_acquire() == 0.0
