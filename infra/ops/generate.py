"""The generated part of template.yaml's operations block: the CloudWatch dashboard, a canary
alarm per function (scoped to its newest version) and an age alarm per work queue.

Built from the template's own resources and the code's metrics and events
(``infra.ops.template_view``), written between two marker lines at the end of ``Resources``::

    python -m infra.ops write    # make ops-template
    python -m infra.ops check    # exit 1 when the template's copy is stale (tests do this)

A function, queue, route, business metric or domain event without its widget or alarm is
therefore a failing test, not a gap someone notices during an incident.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from infra.ops import suppressions
from infra.ops.template_view import TEMPLATE, Function, TemplateView, load

BEGIN = "  # ==================== generated: operations (make ops-template) ===================="
END = "  # ==================== end of generated: operations ===================="
PREAMBLE = """\
  # Written by `make ops-template` (python -m infra.ops write) from the resources above and
  # the code's metrics and events; tests/infra/test_operations.py fails when it is stale.
  # Edit infra/ops/generate.py, not these lines."""
NAMESPACE = "AgentHub"
API_NAME = "agenthub-${Stage}"
CANARY_SUFFIX = "CanaryAlarm"
QUEUE_AGE_SUFFIX = "OldestMessageAlarm"
DASHBOARD = "OperationsDashboard"
MIN_QUEUE_AGE_ALARM_S = 900


# ---------------------------------------------------------------------- YAML with CFN tags
class _Tagged:
    def __init__(self, tag: str, value: str, *, block: bool = False) -> None:
        self.tag, self.value, self.block = tag, value, block


def ref(name: str) -> _Tagged:
    return _Tagged("!Ref", name)


def sub(text: str, *, block: bool = False) -> _Tagged:
    return _Tagged("!Sub", text, block=block)


def get_att(name: str, attribute: str) -> _Tagged:
    return _Tagged("!GetAtt", f"{name}.{attribute}")


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no anchors, ``!Ref X`` unquoted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and (event.tag or "").startswith("!"):
            emitter: Any = self  # PyYAML's Emitter sets ``analysis`` without a declared type
            if emitter.analysis is None:
                emitter.analysis = self.analyze_scalar(event.value)
            if not event.style and emitter.analysis.allow_block_plain:
                return ""
        return str(super().choose_scalar_style())


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    return dumper.represent_scalar(data.tag, data.value, style="|" if data.block else None)


_Dumper.add_representer(_Tagged, _represent_tagged)


def to_yaml(resources: dict[str, Any]) -> str:
    text = yaml.dump(
        resources, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096
    )
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())


# ---------------------------------------------------------------------- alarms
def canary_alarm(function: Function, warning_topic: str) -> dict[str, Any]:
    """Failures of the function's newest version only (alias + ExecutedVersion dimensions):
    Lambda errors plus the 500 answers API functions count themselves (``ServerErrors``).
    The function's DeploymentPreference lists it, so CodeDeploy rolls back on it."""
    name = function.logical_id
    version = get_att(name, "Version.Version")
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": (
                f"{name}: its newest version failed (Lambda errors or 500 answers); "
                "rolls back a canary deployment"
            ),
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref(warning_topic)],
            "Metrics": [
                {
                    "Id": "failures",
                    "Expression": "FILL(errors, 0) + FILL(server, 0)",
                    "Label": "failures of the newest version",
                },
                _metric_query(
                    "errors",
                    "AWS/Lambda",
                    "Errors",
                    [
                        ("FunctionName", ref(name)),
                        ("Resource", sub(f"${{{name}}}:{function.alias}")),
                        ("ExecutedVersion", version),
                    ],
                ),
                _metric_query(
                    "server",
                    NAMESPACE,
                    "ServerErrors",
                    [("FunctionName", ref(name)), ("ExecutedVersion", version)],
                ),
            ],
        },
    }


def _metric_query(
    query_id: str, namespace: str, metric: str, dimensions: list[tuple[str, Any]]
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }


def queue_age_alarm(queue: str, visibility_timeout_s: int, warning_topic: str) -> dict[str, Any]:
    threshold = max(MIN_QUEUE_AGE_ALARM_S, 2 * visibility_timeout_s)
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": (
                f"{queue}: its oldest message waited over {threshold} s (consumers behind)"
            ),
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 3,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref(warning_topic)],
        },
    }


# ---------------------------------------------------------------------- dashboard
def _metric(namespace: str, name: str, *dims: str, **options: Any) -> list[Any]:
    return [namespace, name, *dims, *([options] if options else [])]


def _widget(
    title: str, metrics: list[Any], *, width: int = 8, stat: str = "Sum", **properties: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stat": stat,
            "period": 60,
            "metrics": metrics,
            **properties,
        },
    }


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "width": 24, "height": 2, "properties": {"markdown": markdown}}


def _api_widgets(view: TemplateView) -> list[dict[str, Any]]:
    api = ("ApiName", API_NAME, "Stage", "${Stage}")
    widgets = [
        _text("## API\nPer route: latency p50/p99 and 4XX/5XX (API Gateway detailed metrics)."),
        _widget(
            "API requests and errors",
            [
                _metric("AWS/ApiGateway", "Count", *api, label="requests"),
                _metric("AWS/ApiGateway", "4XXError", *api, label="4XX"),
                _metric("AWS/ApiGateway", "5XXError", *api, label="5XX"),
            ],
            width=12,
        ),
        _widget(
            "API latency",
            [
                _metric("AWS/ApiGateway", "Latency", *api, stat="p50", label="p50"),
                _metric("AWS/ApiGateway", "Latency", *api, stat="p99", label="p99"),
                _metric(
                    "AWS/ApiGateway",
                    "IntegrationLatency",
                    *api,
                    stat="p99",
                    label="integration p99",
                ),
            ],
            width=12,
            stat="p99",
        ),
    ]
    for function in view.functions:
        if not function.routes:
            continue
        latency, errors = [], []
        for route in function.routes:
            dims: tuple[str, ...] = ("ApiName", API_NAME, "Method", route.method)
            dims += ("Resource", route.path)
            dims += ("Stage", "${Stage}")
            label = f"{route.method} {route.path}"
            latency.append(
                _metric("AWS/ApiGateway", "Latency", *dims, stat="p50", label=f"{label} p50")
            )
            latency.append(
                _metric("AWS/ApiGateway", "Latency", *dims, stat="p99", label=f"{label} p99")
            )
            errors.append(_metric("AWS/ApiGateway", "5XXError", *dims, label=f"{label} 5XX"))
            errors.append(_metric("AWS/ApiGateway", "4XXError", *dims, label=f"{label} 4XX"))
        widgets.append(
            _widget(f"{function.logical_id}: latency per route", latency, width=12, stat="p99")
        )
        widgets.append(_widget(f"{function.logical_id}: errors per route", errors, width=12))
    return widgets


def _function_widgets(view: TemplateView) -> list[dict[str, Any]]:
    widgets = [_text("## Functions\nInvocations, errors, throttles; duration; concurrency.")]
    for function in view.functions:
        fn = ("FunctionName", f"${{{function.logical_id}}}")
        name = function.logical_id
        concurrency = [_metric("AWS/Lambda", "ConcurrentExecutions", *fn, stat="Maximum")]
        if function.provisioned:
            alias = (*fn, "Resource", f"${{{name}}}:{function.alias}")
            concurrency += [
                _metric("AWS/Lambda", "ProvisionedConcurrentExecutions", *alias, stat="Maximum"),
                _metric(
                    "AWS/Lambda",
                    "ProvisionedConcurrencyUtilization",
                    *alias,
                    stat="Maximum",
                    yAxis="right",
                ),
                _metric("AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", *alias),
            ]
        widgets += [
            _widget(
                f"{name}: invocations, errors, throttles",
                [
                    _metric("AWS/Lambda", "Invocations", *fn),
                    _metric("AWS/Lambda", "Errors", *fn),
                    _metric("AWS/Lambda", "Throttles", *fn),
                ],
            ),
            _widget(
                f"{name}: duration ({function.memory_mb} MB, timeout {function.timeout_s} s)",
                [
                    _metric("AWS/Lambda", "Duration", *fn, stat="p50", label="p50"),
                    _metric("AWS/Lambda", "Duration", *fn, stat="p99", label="p99"),
                ],
                stat="p99",
            ),
            _widget(f"{name}: concurrency", concurrency, stat="Maximum"),
        ]
    return widgets


def _queue_widgets(view: TemplateView) -> list[dict[str, Any]]:
    widgets = [_text("## Queues and streams\nWork queues: depth and age; every DLQ's depth.")]
    for queue in view.queues:
        if queue.dead_letter:
            continue
        q = ("QueueName", f"${{{queue.logical_id}.QueueName}}")
        widgets.append(
            _widget(
                f"{queue.logical_id}: depth and age",
                [
                    _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", *q, label="visible"),
                    _metric(
                        "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", *q, label="in flight"
                    ),
                    _metric(
                        "AWS/SQS",
                        "ApproximateAgeOfOldestMessage",
                        *q,
                        label="oldest (s)",
                        yAxis="right",
                    ),
                ],
                stat="Maximum",
                period=300,
            )
        )
    widgets.append(
        _widget(
            "Dead-letter queues: depth (any message is a critical alarm)",
            [
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{queue.logical_id}.QueueName}}",
                    label=queue.logical_id,
                )
                for queue in view.queues
                if queue.dead_letter
            ],
            stat="Maximum",
            period=300,
        )
    )
    for consumer in view.stream_consumers:
        widgets.append(
            _widget(
                f"{consumer}: stream iterator age (records expire after 24 h)",
                [_metric("AWS/Lambda", "IteratorAge", "FunctionName", f"${{{consumer}}}")],
                stat="Maximum",
            )
        )
    for table in view.tables:
        t = ("TableName", f"${{{table}}}")
        widgets += [
            _widget(
                f"{table}: consumed capacity",
                [
                    _metric("AWS/DynamoDB", "ConsumedReadCapacityUnits", *t, label="read units"),
                    _metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", *t, label="write units"),
                ],
            ),
            _widget(
                f"{table}: throttles and errors",
                [
                    _metric("AWS/DynamoDB", "ThrottledRequests", *t),
                    _metric("AWS/DynamoDB", "SystemErrors", *t),
                    _metric("AWS/DynamoDB", "TransactionConflict", *t),
                ],
            ),
        ]
    return widgets


def _business_widgets(view: TemplateView) -> list[dict[str, Any]]:
    widgets = [
        _text(
            f"## Business\nEMF metrics of namespace {NAMESPACE}: counted by the code, and every "
            "domain event by type (counted once by the audit consumer)."
        )
    ]
    metrics = view.business_metrics
    names = {m.name for m in metrics}
    counted = [
        _metric(NAMESPACE, m.name, "service", m.service, label=f"{m.name} ({m.service})")
        for m in metrics
    ]
    widgets.append(_widget("Counted by the code", counted, width=12, period=300))
    rates = []
    for m in metrics:
        if m.name.endswith("Hit") and f"{m.name[:-3]}Miss" in names:
            prefix, dims = m.name[:-3], ("service", m.service)
            hit, miss = f"{prefix.lower()}hit", f"{prefix.lower()}miss"
            rates += [
                {"expression": f"100 * {hit} / ({hit} + {miss})", "label": f"{prefix} hit rate %"},
                _metric(NAMESPACE, m.name, *dims, id=hit, visible=False),
                _metric(NAMESPACE, f"{prefix}Miss", *dims, id=miss, visible=False),
            ]
    if rates:
        widgets.append(_widget("Hit rates (%)", rates, width=12, period=300))
    for domain, types in view.domain_events.items():
        widgets.append(
            _widget(
                f"Events: {domain}",
                [
                    _metric(NAMESPACE, "DomainEvents", "service", "audit", "type", t, label=t)
                    for t in types
                ],
                period=300,
            )
        )
    return widgets


def _alarm_widgets(view: TemplateView, generated_alarms: list[str]) -> list[dict[str, Any]]:
    by_severity: dict[str, list[str]] = {"critical": [], "warning": []}
    for alarm in view.alarms:
        if alarm.severity in by_severity:
            by_severity[alarm.severity].append(alarm.logical_id)
    by_severity["warning"] += generated_alarms
    return [
        {
            "type": "alarm",
            "width": 12,
            "height": 6,
            "properties": {
                "title": f"{severity.capitalize()} alarms",
                "alarms": [f"${{{name}.Arn}}" for name in sorted(names)],
                "sortBy": "stateUpdatedTimestamp",
            },
        }
        for severity, names in by_severity.items()
        if names
    ]


def dashboard_body(view: TemplateView, generated_alarms: list[str]) -> str:
    widgets = [
        _text(
            "# AgentHub ${Stage}\nGenerated from template.yaml by `make ops-template`. Alarms go "
            "to three SNS topics: critical, warning, info."
        ),
        *_alarm_widgets(view, generated_alarms),
        *_api_widgets(view),
        *_function_widgets(view),
        *_queue_widgets(view),
        *_business_widgets(view),
    ]
    lines = ",\n".join("  " + json.dumps(w, separators=(",", ":")) for w in widgets)
    return '{"widgets": [\n' + lines + "\n]}\n"


# ---------------------------------------------------------------------- the block
def generated_resources(view: TemplateView) -> dict[str, Any]:
    warning = view.severity_topics.get("warning")
    if warning is None:
        raise ValueError("the template has no SNS topic tagged severity=warning")
    alarms: dict[str, Any] = {}
    for function in view.functions:
        if function.alias:
            alarms[f"{function.logical_id}{CANARY_SUFFIX}"] = canary_alarm(function, warning)
    for queue in view.queues:
        if not queue.dead_letter:
            alarms[f"{queue.logical_id}{QUEUE_AGE_SUFFIX}"] = queue_age_alarm(
                queue.logical_id, queue.visibility_timeout_s, warning
            )
    dashboard = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": sub("agenthub-${Stage}"),
            "DashboardBody": sub(dashboard_body(view, sorted(alarms)), block=True),
        },
    }
    return {DASHBOARD: dashboard, **alarms}


def block(view: TemplateView) -> str:
    return f"{BEGIN}\n{PREAMBLE}\n{to_yaml(generated_resources(view))}{END}\n"


def _split(text: str) -> tuple[str, str, str]:
    """(before, the generated block, after); a template without markers gets the block right
    before ``Outputs:``."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        current, tail = rest.split(END, 1)
        return head, BEGIN + current + END + "\n", tail.removeprefix("\n")
    head, tail = text.split("\nOutputs:", 1)
    return head.rstrip("\n") + "\n\n", "", "\nOutputs:" + tail


def render(path: Path = TEMPLATE) -> tuple[str, str]:
    """(the template's text now, the text it should have)."""
    text = path.read_text(encoding="utf-8")
    head, current, tail = _split(text)
    # The view is built from the template without its generated block, so nothing generated
    # feeds back into the next generation.
    generated = set(re.findall(r"^  ([A-Za-z0-9]+):$", current, flags=re.MULTILINE))
    template = load(path)
    template["Resources"] = {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if name not in generated
    }
    wanted = head + block(TemplateView(template)) + tail
    return text, suppressions.apply(wanted, load(path)["Resources"])
