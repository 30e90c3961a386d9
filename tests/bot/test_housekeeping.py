from __future__ import annotations

import pytest

from bot.housekeeping import Housekeeper, Task


def test_a_failing_task_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("database briefly unavailable")

    keeper = Housekeeper([Task("broken", 1, broken), Task("fine", 1, lambda: ran.append("fine"))])

    keeper.run_once()
    keeper.run_once()

    assert ran == ["broken", "fine", "broken", "fine"]
    assert "housekeeping task broken failed" in caplog.text


def test_the_thread_runs_tasks_at_their_interval_until_stopped() -> None:
    import threading

    ticked = threading.Event()
    keeper = Housekeeper([Task("tick", 0.01, ticked.set)]).start()
    try:
        assert ticked.wait(timeout=5)
    finally:
        keeper.stop()
