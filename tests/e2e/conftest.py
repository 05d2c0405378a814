"""Session-wide local runtimes for end-to-end tests (real HTTP, real moto, real workers).

- ``runtime``: the project's template.yaml on free ports, seeded with demo data through the
  API (``runtime.seed``). The authorizer cache is off unless LOCAL_AUTHORIZER_TTL says
  otherwise, so a revoked key is refused on the next request. The ingestion function may
  fetch URLs on 127.0.0.1 (a local-only override of ALLOW_PRIVATE_URLS).
- ``fixture_runtime``: tests/e2e/fixtures/template.yaml, tiny handlers that echo what the
  runtime gives them; used by test_local_runtime.py to test the runtime's own mechanics.

Each starts once per session (per xdist worker), on demand, and stops at the end: workers and
moto run in their own process groups and are stopped by ``LocalRuntime.stop``; they also exit
by themselves if pytest dies. Function logs: ``<runtime>.log_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.runtime import LocalRuntime

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """The real template, seeded: ``runtime.api_url``, ``runtime.seed['owner_key']``..."""
    local = LocalRuntime(
        api_port=0,
        moto_port=0,
        authorizer_ttl=int(os.environ.get("LOCAL_AUTHORIZER_TTL", "0")),
        seed=True,
        log_dir=tmp_path_factory.mktemp("runtime-logs"),
        # URL import tests fetch from a server on 127.0.0.1, which the template (rightly)
        # forbids; link-local and metadata addresses stay blocked even so.
        env_overrides={
            "IngestionFunction": {"ALLOW_PRIVATE_URLS": "true"},
            # Every browser and client of the suite calls from 127.0.0.1: as one address they
            # would pass the per-address limits (10 conversation starts a minute) by test
            # order and timing. Those limits have their own tests (integration, hardening).
            "ConversationsApiFunction": {
                "CLIENT_STARTS_PER_WINDOW": "1000",
                "CLIENT_MESSAGES_PER_WINDOW": "1000",
            },
        },
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def fixture_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """The fixture template; its state file lets `python -m infra.local.invoke` find it."""
    state_dir = tmp_path_factory.mktemp("fixture-runtime")
    local = LocalRuntime(
        FIXTURES / "template.yaml",
        api_port=0,
        moto_port=0,
        seed=False,
        sqs_retry_delay=0.5,
        log_dir=state_dir / "logs",
        state_file=state_dir / "runtime.json",
        # a local-only override of a template variable (the template says "false")
        env_overrides={"UploadFunction": {"ALLOW_PRIVATE": "true"}},
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()
