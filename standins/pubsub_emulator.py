"""Start Google's own Pub/Sub emulator, when the Google Cloud CLI ships it, on a free port."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_SCRIPT = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
_DEFAULT_SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"))
# The JVM needs about 2.5 s on two cores; leave room for a loaded machine.
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 5.0


def _emulator_script() -> Path | None:
    roots = [Path(p) for p in [os.environ.get("CLOUDSDK_ROOT_DIR")] if p]
    roots.extend(_DEFAULT_SDK_ROOTS)
    gcloud = shutil.which("gcloud")
    if gcloud:
        # gcloud lives in <sdk root>/bin, usually behind a symlink from /usr/bin.
        roots.append(Path(gcloud).resolve().parent.parent)
    for root in roots:
        script = root / _SCRIPT
        if script.is_file() and os.access(script, os.X_OK):
            return script
    return None


def official_emulator_available() -> bool:
    """Tell whether Google's Pub/Sub emulator and a Java runtime are installed."""
    return _emulator_script() is not None and shutil.which("java") is not None


@contextlib.contextmanager
def official_emulator() -> Iterator[str]:
    """Run Google's Pub/Sub emulator on a free port of 127.0.0.1; yield its ``host:port``."""
    script = _emulator_script()
    if script is None:
        raise RuntimeError("the Pub/Sub emulator (gcloud component pubsub-emulator) is missing")
    port = _free_port()
    with tempfile.TemporaryFile() as output:
        # Its own process group lets stop() signal the wrapper script and its java child at once.
        process = subprocess.Popen(  # noqa: S603 - fixed script path, no shell
            [str(script), "--host=127.0.0.1", f"--port={port}"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            started = time.monotonic()
            _wait_until_ready(process, port, output)
            logger.info(
                "Pub/Sub emulator ready on 127.0.0.1:%d after %.1f s",
                port,
                time.monotonic() - started,
            )
            yield f"127.0.0.1:{port}"
        finally:
            _stop(process)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, output: IO[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    url = f"http://127.0.0.1:{port}/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Pub/Sub emulator exited with {process.returncode}: {_tail(output)}"
            )
        # Refused until the JVM listens.
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.read().strip() == b"Ok":
                return
        time.sleep(0.05)
    raise TimeoutError(f"Pub/Sub emulator not ready after {_START_TIMEOUT_SECONDS} s")


def _tail(output: IO[bytes]) -> str:
    output.seek(0)
    return output.read()[-2000:].decode(errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the emulator's whole process group: the script leaves java running otherwise."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("Pub/Sub emulator ignored %s; escalating", sig.name)
            continue
        with contextlib.suppress(ProcessLookupError):
            # The script may have exited before its java child: make sure the group is gone.
            os.killpg(process.pid, signal.SIGKILL)
        return
