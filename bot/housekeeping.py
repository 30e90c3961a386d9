"""Periodic work a bot process does besides answering: expiring stale requests, mostly.

Each task runs on a background thread of its own at its own interval, so a slow one (a
digest waiting on Slack's rate) never delays another; a failing task is logged and tried
again at its next turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """A named job and how often it runs."""

    name: str
    every_seconds: float
    run: Callable[[], object]


class Housekeeper:
    """Run tasks periodically on a daemon thread until stopped."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = list(tasks)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Housekeeper:
        for task in self.tasks:
            thread = threading.Thread(
                target=self._loop, args=(task,), name=f"housekeeping: {task.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def run_once(self) -> None:
        """Run every task now, in order."""
        for task in self.tasks:
            self._run(task)

    def _loop(self, task: Task) -> None:
        while not self._stop.wait(timeout=task.every_seconds):
            self._run(task)

    @staticmethod
    def _run(task: Task) -> None:
        try:
            task.run()
        except Exception:
            logger.exception("housekeeping task %s failed; it runs again later", task.name)
