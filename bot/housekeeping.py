"""Periodic work a bot process does besides answering: expiring stale requests, mostly.

Each task runs on one background thread at its own interval; a failing task is logged
and tried again at its next turn, and never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
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
        self._thread: threading.Thread | None = None

    def start(self) -> Housekeeper:
        if self.tasks:
            self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> None:
        """Run every task now, in order."""
        for task in self.tasks:
            self._run(task)

    def _loop(self) -> None:
        due = {task.name: time.monotonic() + task.every_seconds for task in self.tasks}
        while not self._stop.wait(timeout=1.0):
            now = time.monotonic()
            for task in self.tasks:
                if now >= due[task.name]:
                    self._run(task)
                    due[task.name] = time.monotonic() + task.every_seconds

    @staticmethod
    def _run(task: Task) -> None:
        try:
            task.run()
        except Exception:
            logger.exception("housekeeping task %s failed; it runs again later", task.name)
