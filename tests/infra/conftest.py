"""Fixtures of the infrastructure tests: the template (as written and as SAM translates it),
an offline AWS environment, and one ``sam build`` per session."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.helpers import ROOT, TEMPLATE, SamBuild, project_template, tool, tool_env


@pytest.fixture(scope="package", autouse=True)
def _offline_aws_environment() -> Iterator[None]:
    """Nothing here may reach AWS: fake credentials, a fixed region, no X-Ray daemon.

    Package scope: the variables are restored when the last infra test has run, so other
    tiers in the same session see their own environment.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        env.setenv("SAM_CLI_TELEMETRY", "0")
        yield


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The template as written (intrinsics in their long form)."""
    return project_template().raw


@pytest.fixture(scope="session")
def translated_template() -> dict[str, Any]:
    """What CloudFormation receives after the SAM transform (samtranslator, offline)."""
    return project_template().cfn


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """One ``sam build`` of template.yaml per session, into a temporary folder.

    ``--no-cached``: samconfig.toml turns the build cache on, and that cache lives in the
    repository's .aws-sam; a test must not write there, nor pass on a stale cache.
    """
    workdir = tmp_path_factory.mktemp("sam")
    build_dir = workdir / "build"
    command = [
        tool("sam"),
        "build",
        "--template-file",
        str(TEMPLATE),
        "--build-dir",
        str(build_dir),
        "--no-cached",
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=900, check=False
    )
    seconds = time.monotonic() - started
    print(f"\nsam build took {seconds:.1f}s")
    return SamBuild(done.returncode, done.stdout + done.stderr, seconds, build_dir)
