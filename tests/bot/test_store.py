from __future__ import annotations

import threading
from datetime import timedelta

from bot.db import create_schema, make_engine
from bot.store import FindingStore, utcnow

KEY = "organizations/1/sources/2/locations/global/findings/abc"


def _store(url: str) -> FindingStore:
    engine = make_engine(url)
    create_schema(engine)
    return FindingStore(engine)


def test_first_claim_creates_a_placeholder_and_a_second_worker_is_refused(
    database_url: str,
) -> None:
    store = _store(database_url)

    assert store.claim(KEY, "worker-a") == (True, None)
    assert store.claim(KEY, "worker-b") == (False, None)

    stored = store.get(KEY)
    assert stored is not None
    assert stored.status == "pending"
    assert stored.posted is False


def test_save_releases_the_lease_and_records_the_post(database_url: str) -> None:
    store = _store(database_url)
    store.claim(KEY, "worker-a")

    assert store.save(KEY, "worker-a", status="posted", channel="C1", message_ts="1.000100")

    claimed, stored = store.claim(KEY, "worker-b")
    assert claimed is True
    assert stored is not None
    assert (stored.status, stored.channel, stored.message_ts) == ("posted", "C1", "1.000100")


def test_a_worker_that_lost_its_lease_cannot_save(database_url: str) -> None:
    store = _store(database_url)
    store.claim(KEY, "worker-a", lease=timedelta(seconds=-1))  # already expired
    assert store.claim(KEY, "worker-b")[0] is True

    assert store.save(KEY, "worker-a", status="posted", message_ts="1.0") is False
    stored = store.get(KEY)
    assert stored is not None and stored.message_ts is None


def test_release_lets_the_next_worker_in(database_url: str) -> None:
    store = _store(database_url)
    store.claim(KEY, "worker-a")

    store.release(KEY, "worker-a")

    assert store.claim(KEY, "worker-b") == (True, None)


def test_concurrent_claims_have_exactly_one_winner(database_url: str) -> None:
    store = _store(database_url)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(worker: str) -> None:
        barrier.wait()
        results.append(store.claim(KEY, worker)[0])

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]


def test_same_script_elsewhere_lists_one_finding_per_other_resource(database_url: str) -> None:
    store = _store(database_url)
    rows = [
        ("k1", "//run/a", "aa"),
        ("k2", "//run/b", "aa"),
        ("k3", "//run/b", "aa"),
        ("k4", "//run/c", "bb"),
    ]
    for key, resource, sha in rows:
        store.claim(key, "w")
        store.save(key, "w", status="posted", resource_name=resource, script_sha256=sha)

    others = store.same_script_elsewhere(
        "aa", exclude_resource="//run/a", since=utcnow() - timedelta(hours=1)
    )

    assert [other.resource_name for other in others] == ["//run/b"]
    assert store.count_by_status() == {"posted": 4}
