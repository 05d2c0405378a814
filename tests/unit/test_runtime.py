"""The handler entry and the per-environment registry."""

import io
import json
from types import SimpleNamespace

import pytest

from agenthub import environment, observability
from agenthub.errors import ConfigurationError
from agenthub.runtime import entry
from agenthub.settings import BaseSettings

CONTEXT = SimpleNamespace(
    function_name="things",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:things",
    aws_request_id="req-1",
)


class ThingSettings(BaseSettings):
    size: int = 1


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "things")
    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Things")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "things")
    environment.reset(cold=True)
    yield monkeypatch
    environment.reset(cold=True)


def test_the_handler_gets_its_settings_and_the_logs_name_the_invocation(configured):
    @entry(ThingSettings)
    def handler(event, context, settings):
        return settings.size, observability.logger().get_current_keys()

    configured.setenv("SIZE", "3")
    size, keys = handler({}, CONTEXT)
    assert size == 3
    assert keys["function_request_id"] == "req-1" and keys["function_name"] == "things"


def test_metrics_recorded_by_an_invocation_are_flushed_once_even_when_it_fails(configured, capsys):
    from aws_lambda_powertools.metrics import MetricUnit

    @entry(ThingSettings)
    def handler(event, context, settings):
        observability.metrics().add_metric(name="Things", unit=MetricUnit.Count, value=1)
        if event.get("fail"):
            raise RuntimeError("boom")
        return "ok"

    handler({}, CONTEXT)
    with pytest.raises(RuntimeError):
        handler({"fail": True}, CONTEXT)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [e["Things"] for e in emitted] == [[1.0], [1.0]]

    @entry(ThingSettings)
    def quiet(event, context, settings):
        return "nothing recorded"

    quiet({}, CONTEXT)
    assert "_aws" not in capsys.readouterr().out


def test_a_misconfigured_function_fails_or_answers_what_it_was_told(configured):
    configured.setenv("SIZE", "not a number")

    @entry(ThingSettings)
    def strict(event, context, settings):
        return "unreachable"

    @entry(ThingSettings, misconfigured=lambda: "500 envelope")
    def api(event, context, settings):
        return "unreachable"

    with pytest.raises(ConfigurationError):
        strict({}, CONTEXT)
    assert api({}, CONTEXT) == "500 envelope"


def test_one_reset_forgets_caches_and_a_cold_one_connections_too():
    made = []

    @environment.cached
    def cached_value() -> int:
        made.append("cache")
        return len(made)

    @environment.connection
    def client() -> int:
        made.append("client")
        return len(made)

    ttl = environment.ttl_cache(60)
    ttl.set("k", "v")
    first = (cached_value(), client())

    environment.reset()
    assert ttl.get("k") is None
    assert cached_value() != first[0] and client() == first[1]
    environment.reset(cold=True)
    assert client() != first[1]


def test_an_api_requests_log_lines_and_metrics_carry_its_request_id_and_tenant(configured, capfd):
    from aws_lambda_powertools.metrics import MetricUnit

    @entry(ThingSettings)
    def handler(event, context, settings):
        observability.logger().warning("something to say")
        observability.metrics().add_metric(name="Things", unit=MetricUnit.Count, value=1)
        return observability.logger().get_current_keys()

    api_event = {"requestContext": {"requestId": "api-req-7", "authorizer": {"tenantId": "t1"}}}
    written = io.StringIO()
    configured.setattr(observability.logger().registered_handler, "stream", written)
    keys = handler(api_event, CONTEXT)
    logged = json.loads(written.getvalue().splitlines()[-1])
    printed = [json.loads(line) for line in capfd.readouterr().out.splitlines() if "_aws" in line]
    metric = printed[-1]

    assert keys["correlation_id"] == "api-req-7" and keys["tenant_id"] == "t1"
    assert logged["message"] == "something to say"
    assert logged["correlation_id"] == "api-req-7" and logged["function_request_id"] == "req-1"
    assert metric["correlation_id"] == "api-req-7"
    assert "correlation_id" not in metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]

    # (the next invocation, a queue's, does not inherit the request's ids)
    keys = handler({"Records": []}, CONTEXT)
    assert "correlation_id" not in keys and "tenant_id" not in keys
