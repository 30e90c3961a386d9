"""A small gRPC server host shared by the Google Cloud stand-ins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc

logger = logging.getLogger(__name__)

# A handler gets the deserialized request and the servicer context and returns the
# response message (or, for a stream-stream method, an iterator of responses).
Handler = Callable[[Any, grpc.ServicerContext], Any]


def unary(handler: Handler, request_type: Any, response_type: Any) -> grpc.RpcMethodHandler:
    """Wrap a unary-unary handler, (de)serializing with proto-plus or protobuf types."""
    return grpc.unary_unary_rpc_method_handler(
        handler,
        request_deserializer=_deserializer(request_type),
        response_serializer=_serializer(response_type),
    )


def stream_stream(
    handler: Callable[[Any, grpc.ServicerContext], Any], request_type: Any, response_type: Any
) -> grpc.RpcMethodHandler:
    """Wrap a bidirectional streaming handler."""
    return grpc.stream_stream_rpc_method_handler(
        handler,
        request_deserializer=_deserializer(request_type),
        response_serializer=_serializer(response_type),
    )


def _deserializer(message_type: Any) -> Callable[[bytes], Any]:
    if hasattr(message_type, "deserialize"):  # proto-plus
        return message_type.deserialize
    return message_type.FromString


def _serializer(message_type: Any) -> Callable[[Any], bytes]:
    if hasattr(message_type, "serialize"):  # proto-plus
        return message_type.serialize
    return lambda message: message.SerializeToString()


class GrpcStandIn:
    """Serve generic handlers on 127.0.0.1 at a free port.

    Args:
        services: mapping of fully qualified service name (``google.pubsub.v1.Publisher``)
            to a mapping of method name to ``grpc.RpcMethodHandler``.
        max_workers: server threads; each open streaming call holds one.
    """

    def __init__(
        self, services: dict[str, dict[str, grpc.RpcMethodHandler]], *, max_workers: int = 16
    ) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        for name, methods in services.items():
            self._server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(name, methods),)
            )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> GrpcStandIn:
        self._server.start()
        logger.debug("gRPC stand-in listening on %s", self.address)
        return self

    def stop(self, grace: float = 0.2) -> None:
        self._server.stop(grace).wait()

    def __enter__(self) -> GrpcStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
