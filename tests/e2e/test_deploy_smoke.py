"""The deployment smoke test (infra/ops/smoke.py, run by CI after each deploy) passes against
the local runtime's API and fails against an API that is not there."""

from __future__ import annotations

import subprocess
import sys

from infra.local.runtime import LocalRuntime
from tests.support.events import ROOT


def _smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.ops.smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_smoke_test_passes_against_a_working_api(runtime: LocalRuntime) -> None:
    # Given the seeded demo agent, as CI gets it from the environment's variables
    seed = runtime.seed
    # When the smoke test runs as CI runs it
    done = _smoke(
        "--api-url",
        runtime.api_url,
        "--agent-id",
        seed["agent_id"],
        "--publishable-key",
        seed["publishable_key"],
        "--origin",
        seed["allowed_origins"][0],
    )
    # Then every check passes, the widget's public path included
    assert done.returncode == 0, done.stdout + done.stderr
    for check in ("health", "openapi", "authorizer", "public config"):
        assert f"ok   {check}" in done.stdout


def test_the_smoke_test_fails_when_the_api_is_not_what_was_deployed(
    runtime: LocalRuntime,
) -> None:
    # Given a wrong base path (as if the stage were missing), and wrong agent credentials
    done = _smoke("--api-url", runtime.api_url + "/nowhere", "--attempts", "1")
    wrong_key = _smoke(
        "--api-url",
        runtime.api_url,
        "--agent-id",
        runtime.seed["agent_id"],
        "--publishable-key",
        "pk_live_not_a_key",
        "--origin",
        runtime.seed["allowed_origins"][0],
        "--attempts",
        "1",
    )
    # Then the job fails, saying which check
    assert done.returncode == 1 and "FAIL health" in done.stdout, done.stdout
    assert wrong_key.returncode == 1 and "FAIL public config" in wrong_key.stdout
    assert "ok   health" in wrong_key.stdout
