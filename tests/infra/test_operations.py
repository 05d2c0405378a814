"""Operations as code: the dashboard and generated alarms follow the template and the code
(drift), alarms are routed by severity, the hot public path has provisioned concurrency that
never scales to 0, and deployments and scaling notify the info topic."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.ops import generate
from infra.ops.template_view import TemplateView, load
from tests.infra.helpers import ROOT, TEMPLATE

HOT_PATH_FUNCTIONS = {"AuthorizerFunction", "AgentsApiFunction", "ConversationsApiFunction"}
# Public, but reached only once a conversation is under way (slots, holds, checkout, payment
# status): one cold start per booking, not per widget open, so no provisioned concurrency.
COLD_PUBLIC_FUNCTIONS = {"SchedulingApiFunction", "PaymentsApiFunction"}


@pytest.fixture(scope="module")
def view() -> TemplateView:
    return TemplateView(load(TEMPLATE))


@pytest.fixture(scope="module")
def body(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body with every ``${...}`` replaced, parsed as CloudWatch would."""
    text = template["Resources"][generate.DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", text))


def _metrics_of(body: dict[str, Any]) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if isinstance(row, list)
    ]


def _template_text_body(template: dict[str, Any]) -> str:
    return template["Resources"][generate.DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]


# ---------------------------------------------------------------------- drift
def test_the_generated_block_is_what_the_template_and_code_produce_now() -> None:
    # Given the template as committed
    # When the dashboard and generated alarms are built from its resources and the code
    current, wanted = generate.render(TEMPLATE)
    # Then they are already there (a new function, queue, route, metric or event type fails
    # here until `make ops-template` runs)
    assert current == wanted, "the generated operations block is stale: run `make ops-template`"


def test_a_new_function_and_queue_make_the_block_stale_until_regenerated(tmp_path: Path) -> None:
    # Given a copy of the template with one more consumer function and its queue pair
    copy = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, copy)
    text = copy.read_text()
    addition = """
  ReportsQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt ReportsDeadLetterQueue.Arn
        maxReceiveCount: 3
  ReportsDeadLetterQueue:
    Type: AWS::SQS::Queue
  ReportsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/
      Handler: audit.handlers.on_domain_event.handler
      Events:
        Reports:
          Type: SQS
          Properties:
            Queue: !GetAtt ReportsQueue.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
"""
    copy.write_text(
        text.replace(
            "\n  # ==================== generated:",
            addition + "\n  # ==================== generated:",
            1,
        )
    )
    # When the block is checked, then it is stale
    current, wanted = generate.render(copy)
    assert current != wanted
    # And regenerating gives the function its widgets and canary alarm, the queue its widget
    # and age alarm, and the DLQ its place in the dead-letter widget
    copy.write_text(wanted)
    regenerated = load(copy)
    body = _template_text_body(regenerated)
    assert "${ReportsFunction}" in body
    assert "${ReportsQueue.QueueName}" in body
    assert "${ReportsDeadLetterQueue.QueueName}" in body
    assert "ReportsFunctionCanaryAlarm" in regenerated["Resources"]
    assert "ReportsQueueOldestMessageAlarm" in regenerated["Resources"]
    # And writing again changes nothing
    assert generate.render(copy)[0] == generate.render(copy)[1]


def test_every_function_has_its_lambda_widgets(view: TemplateView) -> None:
    raw = _template_text_body(view.template)
    for function in view.functions:
        for metric in ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"):
            assert f'"{metric}","FunctionName","${{{function.logical_id}}}"' in raw, function


def test_every_route_has_latency_and_errors_per_route(view: TemplateView) -> None:
    raw = _template_text_body(view.template)
    for function in view.functions:
        for route in function.routes:
            dims = f'"Method","{route.method}","Resource","{route.path}"'
            for metric in ("Latency", "5XXError", "4XXError"):
                assert f'"{metric}","ApiName","agenthub-${{Stage}}",{dims}' in raw, route


def test_every_queue_shows_its_depth_and_every_dlq_its_depth(view: TemplateView) -> None:
    raw = _template_text_body(view.template)
    for queue in view.queues:
        row = (
            f'"ApproximateNumberOfMessagesVisible","QueueName","${{{queue.logical_id}.QueueName}}"'
        )
        assert row in raw, queue
        if not queue.dead_letter:
            assert (
                f'"ApproximateAgeOfOldestMessage","QueueName","${{{queue.logical_id}.QueueName}}"'
                in raw
            )


def test_business_metrics_and_domain_events_have_widgets(view: TemplateView) -> None:
    raw = _template_text_body(view.template)
    # the code counts these (a metric renamed in code and not here would fail)
    names = {m.name for m in view.business_metrics}
    assert {"AnswerCacheHit", "AnswerCacheMiss", "AnswerAbstained", "AuditEntriesWritten"} <= names
    for metric in view.business_metrics:
        assert f'"AgentHub","{metric.name}","service","{metric.service}"' in raw
    assert "AnswerCache hit rate %" in raw
    # every domain event type, by domain, as the audit consumer counts them
    assert "MessageAnswered" in view.domain_events["conversations"]
    assert "DocumentIndexed" in view.domain_events["knowledge"]
    for types in view.domain_events.values():
        for event_type in types:
            assert f'"DomainEvents","service","audit","type","{event_type}"' in raw


def test_the_dashboard_body_is_well_formed(body: dict[str, Any]) -> None:
    # CloudWatch's shape: widgets with a type and properties; a metric row is
    # [namespace, name, (dimension name, value)*, {options}?] or an expression object
    assert body["widgets"]
    for widget in body["widgets"]:
        assert widget["type"] in {"metric", "text", "alarm"}
        assert 1 <= widget["width"] <= 24 and widget["height"] >= 1
        if widget["type"] != "metric":
            continue
        for row in widget["properties"]["metrics"]:
            if isinstance(row, dict):
                assert "expression" in row
                continue
            plain = row[:-1] if isinstance(row[-1], dict) else row
            assert len(plain) % 2 == 0 and all(isinstance(part, str) for part in plain), row
        assert len(widget["properties"]["metrics"]) <= 500
    assert len(json.dumps(body)) < 1_000_000


# ---------------------------------------------------------------------- alarms by severity
def test_three_severity_topics_and_every_alarm_routed_to_one(view: TemplateView) -> None:
    assert set(view.severity_topics) == {"critical", "warning", "info"}
    assert len(set(view.severity_topics.values())) == 3
    unrouted = [a.logical_id for a in view.alarms if a.severity is None]
    assert not unrouted


def test_critical_covers_5xx_rate_dlqs_and_data_loss_risks(view: TemplateView) -> None:
    critical = {a.logical_id for a in view.alarms if a.severity == "critical"}
    assert {
        "ApiErrorsAlarm",  # 5xx rate
        "OutboxRelayIteratorAgeAlarm",  # stream records expire at 24 h
        "OutboxRelayErrorsAlarm",
        "AuditRuleDeliveryAlarm",
        "AuditArchiveErrorsAlarm",  # unarchived entries are lost to TTL
    } <= critical
    dead_letter = {q.logical_id for q in view.queues if q.dead_letter}
    dlq_alarms = {
        name
        for name, resource in view.of_type("AWS::CloudWatch::Alarm").items()
        if resource["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert dlq_alarms <= critical
    assert len(dlq_alarms) >= len(dead_letter)


def test_warning_covers_latency_throttles_and_queue_age(view: TemplateView) -> None:
    warning = {a.logical_id for a in view.alarms if a.severity == "warning"}
    assert {"ApiLatencyAlarm", "LambdaThrottlesAlarm", "TableThrottlesAlarm"} <= warning
    for queue in view.queues:
        if not queue.dead_letter:
            assert f"{queue.logical_id}OldestMessageAlarm" in warning


def test_the_api_5xx_alarm_is_a_rate_not_a_count(template: dict[str, Any]) -> None:
    props = template["Resources"]["ApiErrorsAlarm"]["Properties"]
    (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
    assert "errors / requests" in expression


def test_each_function_rolls_back_on_its_own_new_versions_failures(
    view: TemplateView, template: dict[str, Any]
) -> None:
    globals_ = template["Globals"]["Function"]["DeploymentPreference"]
    assert "Alarms" not in globals_, "an API-wide alarm would judge every canary"
    for function in view.functions:
        props = template["Resources"][function.logical_id]["Properties"]
        alarm = f"{function.logical_id}CanaryAlarm"
        assert props["DeploymentPreference"]["Alarms"] == [{"Ref": alarm}], function
        metrics = template["Resources"][alarm]["Properties"]["Metrics"]
        scoped = [
            d["Value"]
            for m in metrics
            if "MetricStat" in m
            for d in m["MetricStat"]["Metric"]["Dimensions"]
            if d["Name"] == "ExecutedVersion"
        ]
        assert scoped == [{"Fn::GetAtt": [function.logical_id, "Version.Version"]}] * 2


def test_deployments_and_scaling_notify_by_severity(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    succeeded = resources["DeploymentSucceededRule"]["Properties"]
    failed = resources["DeploymentFailedRule"]["Properties"]
    scaling = resources["ScalingEventsRule"]["Properties"]
    assert succeeded["EventPattern"]["detail"]["state"] == ["SUCCESS"]
    assert succeeded["Targets"][0]["Arn"] == {"Ref": "AlarmTopicInfo"}
    assert set(failed["EventPattern"]["detail"]["state"]) == {"FAILURE", "STOP"}
    assert failed["Targets"][0]["Arn"] == {"Ref": "AlarmTopicWarning"}
    assert scaling["EventPattern"]["source"] == ["aws.application-autoscaling"]
    assert scaling["Targets"][0]["Arn"] == {"Ref": "AlarmTopicInfo"}
    policy = resources["AlarmTopicsPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"}


# ---------------------------------------------------------------------- provisioned concurrency
def _public_path_functions(template: dict[str, Any]) -> set[str]:
    """The functions behind /v1/public/... routes, and the authorizer those routes use."""
    found = set()
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api" and event["Properties"]["Path"].startswith("/v1/public/"):
                found.add(name)
    authorizers = template["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]
    arn = authorizers["PublicKeyAuthorizer"]["FunctionArn"]["Fn::Sub"]
    found.add(arn.split(":function:${")[1].split("}")[0])
    return found


def test_the_authorizers_invoke_the_alias_that_is_deployed_and_provisioned(
    template: dict[str, Any],
) -> None:
    # An unqualified ARN would invoke $LATEST: no canary, no provisioned concurrency
    api = template["Resources"]["Api"]
    alias = template["Globals"]["Function"]["AutoPublishAlias"]
    for authorizer in api["Properties"]["Auth"]["Authorizers"].values():
        arn = authorizer["FunctionArn"]["Fn::Sub"]
        assert arn.endswith(f":function:${{AuthorizerFunction}}:{alias}"), arn
    # and the API (so the invoke permission SAM generates for it) waits for that alias
    assert api["DependsOn"] == f"AuthorizerFunctionAlias{alias}"


def test_the_hot_public_path_is_what_gets_provisioned(template: dict[str, Any]) -> None:
    targets = {
        resource["Properties"]["ResourceId"]["Fn::Sub"].split("${")[1].split("}")[0]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    }
    # every public function is placed on one side on purpose
    assert _public_path_functions(template) == HOT_PATH_FUNCTIONS | COLD_PUBLIC_FUNCTIONS
    assert targets == HOT_PATH_FUNCTIONS


def test_provisioned_concurrency_is_scheduled_tracked_and_never_zero(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    parameters = template["Parameters"]
    policies = {
        r["Properties"]["ScalingTargetId"]["Ref"]: r
        for r in resources.values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
    }
    for name, resource in resources.items():
        if resource["Type"] != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        props = resource["Properties"]
        # only when enabled: dev pays nothing
        assert resource["Condition"] == "HasProvisionedConcurrency"
        # on the alias the API invokes, after SAM created it
        assert props["ResourceId"]["Fn::Sub"].endswith(":live")
        assert resource["DependsOn"].endswith("Aliaslive")
        assert props["MinCapacity"] >= 1
        actions = {a["ScheduledActionName"]: a for a in props["ScheduledActions"]}
        assert set(actions) == {"business-hours", "after-hours"}
        for action in actions.values():
            assert action["Timezone"] == {"Ref": "BusinessTimeZone"}
            minimum = action["ScalableTargetAction"]["MinCapacity"]
            if isinstance(minimum, dict):
                assert parameters[minimum["Ref"]]["MinValue"] >= 1
            else:
                assert minimum >= 1
        tracking = policies[name]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        assert metric == "LambdaProvisionedConcurrencyUtilization"
        assert 0 < tracking["TargetValue"] < 1
    assert parameters["ProvisionedConcurrency"]["Default"] == "disabled"
    samconfig = (ROOT / "samconfig.toml").read_text()
    dev = samconfig.split("[dev.deploy.parameters]")[1].split("\n[")[0]
    assert "ProvisionedConcurrency=enabled" not in dev


def test_no_function_sets_provisioned_concurrency_itself(view: TemplateView) -> None:
    for function in view.functions:
        props = view.template["Resources"][function.logical_id]["Properties"]
        assert "ProvisionedConcurrencyConfig" not in props, function.logical_id
    assert "ProvisionedConcurrencyConfig" not in view.template["Globals"]["Function"]


# ---------------------------------------------------------------------- shared cache
SHARED_CACHE_RESOURCES = {
    "SharedCacheCluster",
    "SharedCacheSecurityGroup",
    "SharedCacheClientSecurityGroup",
}


def test_the_shared_cache_is_absent_unless_enabled(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert template["Parameters"]["SharedCache"]["Default"] == "disabled"
    assert template["Conditions"]["HasSharedCache"] == {
        "Fn::Equals": [{"Ref": "SharedCache"}, "enabled"]
    }
    for name in SHARED_CACHE_RESOURCES:
        assert resources[name]["Condition"] == "HasSharedCache", name
    cluster = resources["SharedCacheCluster"]["Properties"]
    assert cluster["Engine"] == "memcached"
    ingress = resources["SharedCacheSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": 11211,
            "ToPort": 11212,
            "SourceSecurityGroupId": {"Ref": "SharedCacheClientSecurityGroup"},
            "Description": "memcached (11211) and its read endpoint (11212)",
        }
    ]


@pytest.mark.parametrize("function", ["AgentsApiFunction", "ConversationsApiFunction"])
def test_the_cache_users_join_the_vpc_and_get_the_endpoint_only_when_enabled(
    template: dict[str, Any], function: str
) -> None:
    props = template["Resources"][function]["Properties"]
    variables = props["Environment"]["Variables"]
    condition, enabled, disabled = variables["SHARED_CACHE_ENDPOINT"]["Fn::If"]
    assert (condition, disabled) == ("HasSharedCache", "")
    assert "SharedCacheCluster.Endpoint.Address" in enabled["Fn::Sub"]
    assert variables["SHARED_CACHE_TLS"] == "true"  # ElastiCache Serverless is TLS only
    condition, vpc, none = props["VpcConfig"]["Fn::If"]
    assert condition == "HasSharedCache" and none == {"Ref": "AWS::NoValue"}
    assert vpc["SecurityGroupIds"] == [{"Ref": "SharedCacheClientSecurityGroup"}]


def test_the_local_runtime_skips_what_the_default_parameters_leave_out() -> None:
    # The local runtime reads the same template; with the defaults the conditional
    # operations resources (scaling, shared cache) are not created, and the rest (alarms,
    # dashboard, topics) are placeholders it tolerates.
    from infra.local.resources import Provisioner  # noqa: F401 - the runtime's own entry
    from infra.local.template import load_template as local_template

    model = local_template(TEMPLATE)
    resources = model.cfn["Resources"]
    resolver = model.resolver({}, {})
    for name in SHARED_CACHE_RESOURCES | {"ConversationsApiScalingTarget"}:
        assert not resolver.condition(resources[name]["Condition"]), name
