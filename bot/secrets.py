"""Settings that name Secret Manager versions instead of holding values.

A variable set to ``sm://projects/P/secrets/S/versions/V`` (V a number or ``latest``) is
replaced at start by that version's payload, read once with google-cloud-secret-manager.
The payload's CRC32C is checked, and no value is ever logged: only the secret's name.
``SECRETMANAGER_EMULATOR_HOST=host:port`` sends the reads to a plaintext stand-in.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.api_core import exceptions as gexc

logger = logging.getLogger(__name__)

PREFIX = "sm://"
EMULATOR_VARIABLE = "SECRETMANAGER_EMULATOR_HOST"
_VERSION_NAME = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_\-]{1,255}/versions/[^/]+$")

Accessor = Callable[[str], str]


class SecretError(Exception):
    """A secret reference cannot be read; the message names the variable, never a value."""


def is_reference(value: object) -> bool:
    """Return whether a setting's raw value names a secret version."""
    return isinstance(value, str) and value.startswith(PREFIX)


def resolve_references(values: Mapping[str, Any], access: Accessor | None = None) -> dict[str, Any]:
    """Return ``values`` with every ``sm://`` reference replaced by the secret's payload.

    Args:
        values: setting name (any case) to raw value; other values pass through unchanged.
        access: reads one version by full name; defaults to a Secret Manager client.
    """
    wanted = {name: value for name, value in values.items() if is_reference(value)}
    if not wanted:
        return dict(values)
    if access is None:
        with SecretManagerAccessor() as accessor:
            return _substitute(values, wanted, accessor.access)
    return _substitute(values, wanted, access)


def _substitute(
    values: Mapping[str, Any], wanted: Mapping[str, str], access: Accessor
) -> dict[str, Any]:
    # Check every reference before reading any, so one typo fails fast and costs no call.
    for variable, reference in wanted.items():
        if not _VERSION_NAME.match(reference.removeprefix(PREFIX)):
            raise SecretError(
                f"{variable.upper()}: {reference!r} is not sm://projects/P/secrets/S/versions/V"
            )
    resolved = dict(values)
    read: dict[str, str] = {}
    for variable, reference in wanted.items():
        name = reference.removeprefix(PREFIX)
        if name not in read:
            try:
                read[name] = access(name)
            except SecretError as exc:
                raise SecretError(f"{variable.upper()}: {exc}") from None
        resolved[variable] = read[name]
        logger.info("%s read from secret %s", variable.upper(), name)
    return resolved


def references_in(environ: Mapping[str, str], fields: Iterable[str]) -> dict[str, str]:
    """Return the variables among ``fields`` whose environment value is a reference."""
    found = {}
    for field in fields:
        value = environ.get(field.upper())
        if is_reference(value):
            found[field] = str(value)
    return found


class SecretManagerAccessor:
    """Read secret versions with one client, closed when done."""

    def __init__(self, emulator: str | None = None) -> None:
        from bot.clients import make_secret_manager_client

        self._client = make_secret_manager_client(emulator or os.environ.get(EMULATOR_VARIABLE))

    def access(self, name: str) -> str:
        """Return the payload of one version as text, after checking its checksum."""
        try:
            response = self._client.access_secret_version(name=name, timeout=30)
        except gexc.PermissionDenied:
            raise SecretError(
                f"no permission to read {name} (needs roles/secretmanager.secretAccessor)"
            ) from None
        except gexc.GoogleAPICallError as exc:
            raise SecretError(f"cannot read {name}: {exc.code} {exc.message}") from None
        payload = response.payload
        if payload.data_crc32c is not None and crc32c(payload.data) != payload.data_crc32c:
            raise SecretError(f"{name}: payload checksum mismatch")
        try:
            return payload.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SecretError(f"{name}: payload is not UTF-8 text") from None

    def close(self) -> None:
        self._client.transport.close()

    def __enter__(self) -> SecretManagerAccessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def crc32c(data: bytes) -> int:
    """Return the CRC-32C (Castagnoli) of ``data``, as Secret Manager computes it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            # Reflected polynomial 0x1EDC6F41; a table is not worth it for a few tokens.
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
