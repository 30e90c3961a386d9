"""Long-running operations that finish at once, served as ``google.longrunning.Operations``."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import message as pb_message
from google.rpc import status_pb2

from standins.recorder import CallRecorder, Refused, handlers

SERVICE = "google.longrunning.Operations"


class OperationStore:
    """Keep finished operations so clients can poll them by name."""

    def __init__(self) -> None:
        self._operations: dict[str, operations_pb2.Operation] = {}
        self._lock = threading.Lock()

    def finish(
        self,
        location: str,
        response: pb_message.Message,
        metadata: pb_message.Message,
        error: tuple[grpc.StatusCode, str] | None = None,
    ) -> operations_pb2.Operation:
        """Record a done operation with its response, or with ``error`` instead.

        Args:
            location: ``projects/P/locations/L``, the operation's parent.
        """
        operation = operations_pb2.Operation(
            name=f"{location}/operations/{uuid.uuid4()}", done=True
        )
        # Clients poll done() and read metadata from every answer: always include it.
        operation.metadata.Pack(metadata)
        if error is None:
            operation.response.Pack(response)
        else:
            code, message = error
            operation.error.CopyFrom(status_pb2.Status(code=code.value[0], message=message))
        with self._lock:
            self._operations[operation.name] = operation
        return operation

    def get(self, name: str) -> operations_pb2.Operation:
        """Return a stored operation; NOT_FOUND for an unknown name."""
        with self._lock:
            operation = self._operations.get(name)
        if operation is None:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"operation {name!r} not found")
        return operation

    def method_handlers(self, recorder: CallRecorder) -> dict[str, grpc.RpcMethodHandler]:
        """Return handlers for GetOperation and WaitOperation."""
        table: dict[str, tuple[Any, Any, Any]] = {
            "GetOperation": (
                lambda request, _: self.get(request.name),
                operations_pb2.GetOperationRequest,
                operations_pb2.Operation,
            ),
            # Every operation is already done, so waiting returns at once.
            "WaitOperation": (
                lambda request, _: self.get(request.name),
                operations_pb2.WaitOperationRequest,
                operations_pb2.Operation,
            ),
        }
        return handlers(recorder, table)
