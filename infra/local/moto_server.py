"""The moto server, in its own process (so AWS calls never take the gateway's GIL).

``python -m infra.local.moto_server --port 0`` binds, prints ``READY <port>`` and serves until
its parent goes away. Two fixes to moto are applied here, both documented in
docs/local-runtime.md:

- moto leaves ``account`` out of the events its EventBridge rules deliver to SQS; real
  EventBridge always sends it (Powertools' EventBridgeModel requires it).
- request logging is off: one line per AWS call drowns the function logs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

READY = "READY"


@dataclass
class MotoProcess:
    """A running moto server child process."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_moto(port: int = 0, *, startup_timeout: float = 30.0) -> MotoProcess:
    """Start a moto server on 127.0.0.1:``port`` (0 = a free port) and wait until it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.moto_server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        # Own session: Ctrl+C in a terminal reaches the runtime, which then stops moto cleanly.
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    line = _read_line(process.stdout, startup_timeout)
    if not line.startswith(READY):
        process.kill()
        raise RuntimeError(f"moto server did not start: {line!r}")
    return MotoProcess(process, int(line.split()[1]))


def _read_line(stream: IO[str] | None, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline() if stream else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else "timeout"


def _patch_moto() -> None:
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
        '"account": "<account>", "time": <time>, "region": "<region>", '
        '"resources": <resources>, "detail": <detail>}'
    )


# What the provisioner creates; loading these before READY overlaps with the runtime reading
# the template instead of delaying the first create call. (SSM loads slowly: on demand.)
PRELOAD = ("dynamodb", "sqs", "sns", "s3", "secretsmanager", "events", "logs")


def _preload(app: object, create_backend_app: object) -> None:
    from moto.backends import get_backend

    from infra.local import ACCOUNT_ID, REGION

    for service in PRELOAD:
        app.app_instances[service] = create_backend_app(service)  # type: ignore[attr-defined]
        backends = get_backend(service)[ACCOUNT_ID]  # type: ignore[index]
        # Global services (S3) are keyed by partition, the others by region.
        backends[REGION if REGION in backends.regions else "aws"]


def _watch_parent(parent_pid: int) -> None:
    # If the runtime dies without stopping us (kill -9), exit instead of lingering.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _patch_moto()

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)
    _preload(app, create_backend_app)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    print(f"{READY} {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
