"""A Secret Manager stand-in serving ``SecretManagerService/AccessSecretVersion``.

Secrets live in memory as numbered versions; ``latest`` is the highest enabled one, as in
the real service. Answers carry ``data_crc32c`` so the client can check the payload.
Point the bot at it with ``SECRETMANAGER_EMULATOR_HOST=<address>``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import grpc
from google.cloud.secretmanager_v1 import types

from standins.grpc_server import GrpcStandIn
from standins.recorder import CallRecorder, Refused, handlers

logger = logging.getLogger(__name__)

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
_VERSION_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/secrets/(?P<secret>[A-Za-z0-9_\-]{1,255})"
    r"/versions/(?P<version>latest|[1-9][0-9]*)$"
)


@dataclass
class _Version:
    data: bytes
    enabled: bool = True
    corrupt_crc: bool = False


class SecretManagerStandIn:
    """Secret versions in memory behind the real gRPC service."""

    def __init__(self) -> None:
        self.recorder = CallRecorder()
        self._secrets: dict[str, list[_Version]] = {}
        self._lock = threading.Lock()
        table = {
            "AccessSecretVersion": (
                self._access,
                types.AccessSecretVersionRequest,
                types.AccessSecretVersionResponse,
            ),
        }
        self._server = GrpcStandIn({SERVICE: handlers(self.recorder, table)})
        self.address = self._server.address
        self.requests_to = self.recorder.requests_to
        self.fail_next = self.recorder.fail_next

    def start(self) -> SecretManagerStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SecretManagerStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_version(self, secret: str, data: str | bytes, *, enabled: bool = True) -> str:
        """Add a version to ``projects/P/secrets/S`` and return the version's full name."""
        payload = data.encode() if isinstance(data, str) else data
        with self._lock:
            versions = self._secrets.setdefault(secret, [])
            versions.append(_Version(payload, enabled))
            return f"{secret}/versions/{len(versions)}"

    def corrupt_next_checksum(self, secret: str) -> None:
        """Answer the latest version of ``secret`` with a wrong CRC32C from now on."""
        with self._lock:
            self._secrets[secret][-1].corrupt_crc = True

    def _access(
        self, request: types.AccessSecretVersionRequest, _: grpc.ServicerContext
    ) -> types.AccessSecretVersionResponse:
        match = _VERSION_NAME.match(request.name)
        if not match:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid name {request.name!r}")
        secret = request.name.split("/versions/")[0]
        with self._lock:
            versions = self._secrets.get(secret)
            if not versions:
                raise Refused(grpc.StatusCode.NOT_FOUND, f"Secret [{secret}] not found")
            number = _pick(versions, match["version"], request.name)
            version = versions[number - 1]
        checksum = _crc32c(version.data) ^ (1 if version.corrupt_crc else 0)
        return types.AccessSecretVersionResponse(
            name=f"{secret}/versions/{number}",
            payload=types.SecretPayload(data=version.data, data_crc32c=checksum),
        )


def _pick(versions: list[_Version], wanted: str, name: str) -> int:
    if wanted == "latest":
        for number in range(len(versions), 0, -1):
            if versions[number - 1].enabled:
                return number
        raise Refused(grpc.StatusCode.FAILED_PRECONDITION, f"{name} has no enabled version")
    number = int(wanted)
    if number > len(versions):
        raise Refused(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found")
    if not versions[number - 1].enabled:
        raise Refused(grpc.StatusCode.FAILED_PRECONDITION, f"{name} is in DISABLED state")
    return number


def _crc32c(data: bytes) -> int:
    # Castagnoli CRC, bit by bit: the stand-in serves a handful of short secrets.
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
