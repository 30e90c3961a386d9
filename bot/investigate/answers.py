"""Remember recent answers so that a second click does not call the APIs again.

The cache lives in this process only: with several bot instances a click may land on one
that has not answered yet and look up again, which costs an API call, nothing more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 512


class AnswerCache:
    """A small TTL cache keyed by (finding, button) that computes each key once at a time."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, finding: str, button: str) -> Any | None:
        """Return the answer stored for this key, or None when there is none or it expired."""
        key = (finding, button)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry[0] > self.ttl:
                del self._entries[key]
                return None
            return entry[1]

    def get_or_compute(self, finding: str, button: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """Return (answer, reused); a failing ``compute`` stores nothing."""
        key = (finding, button)
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        # Two quick clicks wait for one lookup instead of making two.
        with key_lock:
            cached = self.get(finding, button)
            if cached is not None:
                return cached, True
            answer = compute()
            if self.ttl > 0:
                self._store(key, answer)
            return answer, False

    def _store(self, key: tuple[str, str], answer: Any) -> None:
        with self._lock:
            now = self._clock()
            self._entries[key] = (now, answer)
            if len(self._entries) > MAX_ENTRIES:
                for stale in [k for k, (at, _) in self._entries.items() if now - at > self.ttl]:
                    del self._entries[stale]
                while len(self._entries) > MAX_ENTRIES:
                    del self._entries[next(iter(self._entries))]
                self._locks = {k: v for k, v in self._locks.items() if k in self._entries}
