"""Record the requests a gRPC stand-in receives and inject faults into its answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from standins.grpc_server import Handler, unary

logger = logging.getLogger(__name__)


class Refused(Exception):
    """Raised by a handler to end the call with a gRPC status, as the real service would."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RecordedRequest:
    """One call as the server received it: the method name and the request message."""

    method: str
    request: Any


@dataclass
class _Fault:
    code: grpc.StatusCode | None
    message: str
    delay: float
    remaining: int


class CallRecorder:
    """Keep every request in arrival order and apply queued failures and delays."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()

    def requests_to(self, method: str) -> list[Any]:
        """Return the request messages received by one method, oldest first."""
        with self._lock:
            return [r.request for r in self.requests if r.method == method]

    def fail_next(
        self, method: str, code: grpc.StatusCode, message: str = "", count: int = 1
    ) -> None:
        """Make the next ``count`` calls to ``method`` end with ``code``."""
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(code, message or f"injected {code.name}", 0.0, count)
            )

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` answers of ``method`` for ``seconds``."""
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(None, "", seconds, count))

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return a handler that records the call and applies faults before ``handler``."""

        def recorded(request: Any, context: grpc.ServicerContext) -> Any:
            fault = self._record(method, request)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.code is not None:
                    logger.debug("failing %s with %s", method, fault.code.name)
                    context.abort(fault.code, fault.message)
            try:
                return handler(request, context)
            except Refused as refusal:
                logger.debug("%s refused: %s %s", method, refusal.code.name, refusal.message)
                context.abort(refusal.code, refusal.message)

        return recorded

    def _record(self, method: str, request: Any) -> _Fault | None:
        with self._lock:
            self.requests.append(RecordedRequest(method, request))
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault


def handlers(
    recorder: CallRecorder, table: Mapping[str, tuple[Handler, Any, Any]]
) -> dict[str, grpc.RpcMethodHandler]:
    """Build unary method handlers that go through ``recorder``."""
    return {
        name: unary(recorder.wrap(name, handler), request_type, response_type)
        for name, (handler, request_type, response_type) in table.items()
    }
