"""Containment requests move between states by conditional updates, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from bot.containment.execute import ActionResult
from bot.containment.plan import ActionKind, Plan
from bot.containment.store import ContainmentStore, Status, utcnow
from bot.db import audit, create_schema, make_engine

SERVICE = "projects/acme-prod/locations/us-central1/services/payments-api"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    create_schema(built)
    yield built
    built.dispose()


@pytest.fixture
def store(engine: Engine) -> ContainmentStore:
    return ContainmentStore(engine)


def _plan() -> Plan:
    return Plan(
        action=ActionKind.INGRESS_INTERNAL,
        resource=SERVICE,
        etag='"e1"',
        before={"ingress": "INGRESS_TRAFFIC_ALL"},
        after={"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"},
        change="ingress: all → internal only",
    )


def _create(store: ContainmentStore, *, minutes: int = 30) -> str:
    request = store.create(
        finding_key="organizations/1/sources/2/locations/global/findings/f1",
        resource=SERVICE,
        channel="C0SECURITY",
        thread_ts="1.000100",
        requester="U0ALICE",
        reason="crypto miner",
        mode="execute",
        plans=[_plan()],
        expires_at=utcnow() + timedelta(minutes=minutes),
    )
    return request.id


def test_request_round_trips_plans(store: ContainmentStore) -> None:
    request_id = _create(store)

    request = store.get(request_id)

    assert request is not None
    assert request.status is Status.PENDING
    assert request.plans == [_plan()]
    assert request.expires_at.tzinfo is not None
    assert store.pending_requests()[0].id == request_id


def test_only_the_first_approval_wins(store: ContainmentStore) -> None:
    request_id = _create(store)

    first = store.approve(request_id, "U0BOB")
    second = store.approve(request_id, "U0CAROL")

    assert (first, second) == (True, False)
    request = store.get(request_id)
    assert request is not None and request.decided_by == "U0BOB"
    assert request.status is Status.APPROVED


def test_concurrent_approvals_and_starts_let_exactly_one_through(store: ContainmentStore) -> None:
    request_id = _create(store)
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def click(user: str) -> None:
        barrier.wait()
        if store.approve(request_id, user) and store.start(request_id):
            wins.append(user)

    threads = [threading.Thread(target=click, args=(f"U0APP{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1
    request = store.get(request_id)
    assert request is not None and request.status is Status.EXECUTING
    assert request.decided_by == wins[0]


def test_expired_request_cannot_be_approved(store: ContainmentStore) -> None:
    request_id = _create(store, minutes=1)
    later = utcnow() + timedelta(minutes=2)

    assert store.approve(request_id, "U0BOB", now=later) is False
    expired = store.expire_due(now=later)

    assert [r.id for r in expired] == [request_id]
    assert expired[0].status is Status.EXPIRED
    assert store.expire_due(now=later) == []


def test_reject_then_approve_does_nothing(store: ContainmentStore) -> None:
    request_id = _create(store)

    assert store.reject(request_id, "U0BOB") is True
    assert store.approve(request_id, "U0CAROL") is False
    assert store.start(request_id) is False


def test_execution_results_and_undo_are_recorded(store: ContainmentStore) -> None:
    request_id = _create(store)
    store.approve(request_id, "U0BOB")
    store.start(request_id)
    result = ActionResult(
        ActionKind.INGRESS_INTERNAL,
        SERVICE,
        ok=True,
        replaced={"ingress": "INGRESS_TRAFFIC_ALL"},
        applied={"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"},
        etag_after='"e2"',
    )

    assert store.finish(request_id, [result]) is True
    assert store.finish(request_id, [result]) is False
    assert store.begin_undo(request_id, "U0BOB") is True
    assert store.begin_undo(request_id, "U0CAROL") is False
    assert store.finish_undo(request_id, [result]) is True

    request = store.get(request_id)
    assert request is not None
    assert request.status is Status.UNDONE
    assert request.undone_by == "U0BOB"
    assert request.results == [result]
    assert [r.id for r in store.recent_actions(5)] == [request_id]
    assert store.pending_requests() == []


def test_failed_action_makes_the_request_failed(store: ContainmentStore) -> None:
    request_id = _create(store)
    store.approve(request_id, "U0BOB")
    store.start(request_id)
    failed = ActionResult(ActionKind.INGRESS_INTERNAL, SERVICE, ok=False, error="denied")

    store.finish(request_id, [failed])

    request = store.get(request_id)
    assert request is not None
    assert (request.status, request.error) == (Status.FAILED, "denied")


def test_plan_only_approval_is_recorded_not_started(store: ContainmentStore) -> None:
    request_id = _create(store)
    store.approve(request_id, "U0BOB")

    assert store.record_plan_only(request_id) is True
    assert store.start(request_id) is False
    request = store.get(request_id)
    assert request is not None and request.status is Status.RECORDED


def test_audit_rows_are_written(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    from bot.containment.audit import record_audit

    caplog.set_level("INFO", logger="bot.containment.audit")
    record_audit(
        engine,
        actor="U0BOB",
        event="approve",
        request_id="r1",
        finding_key="f1",
        resource=SERVICE,
        before={"ingress": "INGRESS_TRAFFIC_ALL"},
        result="approved",
    )

    with engine.connect() as conn:
        row = conn.execute(select(audit)).one()
    assert (row.actor, row.event, row.resource, row.result) == (
        "U0BOB",
        "approve",
        SERVICE,
        "approved",
    )
    assert row.before == '{"ingress": "INGRESS_TRAFFIC_ALL"}'
    logged = [r for r in caplog.records if hasattr(r, "audit")]
    assert logged[0].audit["event"] == "approve"
    assert logged[0].audit["actor"] == "U0BOB"
