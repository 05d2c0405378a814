"""Integration fixtures: one moto world per test package, empty caches and table per test.

Every resource of ``template.yaml`` is created once for the whole package, in moto's
in-process mock, by the local runtime's provisioner (``harness.create_world``). Every test
makes its own tenants (every key starts with the tenant id), and after each test the table is
replaced by an empty one and the queues drained (``harness.wipe``), so no test sees another's
data.

What a warm Lambda environment keeps that changes behaviour (settings, caches, breakers, cached
secrets: everything in agenthub.environment) is reset before and after every test. AWS clients
stay warm between tests; ``cold_start`` gives a true cold start (new table binding and
clients) where a test needs one, ``reconfigure`` a changed environment.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator

import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from tests.integration import harness
from tests.integration.stripe_world import clean_stripe, stripe  # noqa: F401 - payments' fixtures

_AWS_VARIABLES_TO_DROP = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def reset_environment(*, cold: bool = False) -> None:
    """Forget what a warm Lambda environment keeps (agenthub.environment); with ``cold``, also
    its clients and table binding (a cold start)."""
    from agenthub import environment

    environment.reset(cold=cold)


@pytest.fixture(scope="package")
def aws() -> Iterator[harness.World]:
    """The template's resources in an in-process moto, and the functions' environment."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL") or name in _AWS_VARIABLES_TO_DROP:
                env.delenv(name)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", harness.REGION)
        env.setenv("AWS_REGION", harness.REGION)
        env.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        # Every cold start builds new botocore sessions and clients, as Lambda would; sharing
        # one data loader only spares re-parsing the same service JSON (~60 ms a session).
        env.setattr(
            botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader)
        )
        harness.aws_client.cache_clear()
        with mock_aws():
            world = harness.create_world()
            for name, value in world.environment.items():
                env.setenv(name, value)
            env.setenv("POWERTOOLS_SERVICE_NAME", "itest")
            env.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
            reset_environment(cold=True)
            yield world
        harness.aws_client.cache_clear()
    reset_environment(cold=True)


@pytest.fixture(autouse=True)
def fresh_caches(aws: harness.World) -> Iterator[None]:
    """Every test starts with empty caches. AWS clients and pynamodb connections stay warm:
    they hold no state a test could observe, and building them anew (~150 ms of botocore
    sessions a test) would make the suite several times slower for nothing."""
    reset_environment()
    yield
    reset_environment()
    harness.wipe(aws)


@pytest.fixture
def cold_start(aws: harness.World) -> Iterator[Callable[[], None]]:
    """Call it for a true cold start: also a new table binding and new AWS clients."""
    yield lambda: reset_environment(cold=True)
    reset_environment(cold=True)


@pytest.fixture
def reconfigure(aws: harness.World) -> Iterator[Callable[..., None]]:
    """Change the functions' environment (``reconfigure(TABLE_NAME="x")``) for one test; the
    next invocation is a cold start that reads it, and the test's end restores both."""
    with pytest.MonkeyPatch.context() as env:

        def apply(**variables: str) -> None:
            for name, value in variables.items():
                env.setenv(name, value)
            reset_environment(cold=True)

        yield apply
    reset_environment(cold=True)


@pytest.fixture
def published(aws: harness.World) -> harness.PublishedEvents:
    """Domain events that reached the audit queue through the template's AuditRule."""
    return harness.PublishedEvents(aws.audit_queue_url, aws.table_name)


@pytest.fixture
def tenant(aws: harness.World) -> Callable[..., harness.Tenant]:
    """A factory: a new tenant through POST /v1/tenants, its owner key authorized for real."""
    return harness.create_tenant


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> harness.CallLog:
    """Every AWS API call made from here on (boto3 and pynamodb), as (service, operation)."""
    import botocore.client

    log = harness.CallLog()
    original = botocore.client.BaseClient._make_api_call
    monkeypatch.setattr(
        botocore.client.BaseClient, "_make_api_call", harness.counting(original, log)
    )
    return log
