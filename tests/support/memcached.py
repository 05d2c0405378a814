"""A real memcached (Debian's, installed by infra/scripts/setup.sh) on a free loopback port,
for the shared-cache tests and bench. Not a fake: the client speaks the real protocol."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARY_VARIABLE = "AGENTHUB_MEMCACHED"


def binary() -> str | None:
    return (
        os.environ.get(BINARY_VARIABLE)
        or shutil.which("memcached")
        or ("/usr/bin/memcached" if Path("/usr/bin/memcached").exists() else None)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_memcached(memory_mb: int = 64) -> Iterator[str]:
    """Start memcached; yield its ``host:port``; stop it."""
    path = binary()
    if path is None:
        raise RuntimeError(
            "memcached is not installed: run `make setup` (apt-get install memcached)"
        )
    port = free_port()
    process = subprocess.Popen(
        [path, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", str(memory_mb), "-t", "2"]
        + (["-u", "nobody"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"memcached did not start: {error}") from None
                time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
