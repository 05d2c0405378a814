"""What the operations code needs to know about template.yaml and the code, read from them.

The dashboard and the generated alarms (``infra.ops.generate``) are built from this view, so a
function, queue, route, business metric or domain event added anywhere shows up there the next
time ``make ops-template`` runs, and the drift test fails until it does.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS_DIR = ROOT / "functions"
SEVERITIES = ("critical", "warning", "info")


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain dicts, intrinsic functions in long form (cfn-lint's decoder)."""
    from cfnlint.decode import decode

    template, errors = decode(str(path))
    if errors or not isinstance(template, dict):
        raise ValueError(f"{path} does not parse: " + "; ".join(str(e) for e in errors))
    parsed: dict[str, Any] = json.loads(json.dumps(template))
    return parsed


@dataclass(frozen=True)
class Route:
    method: str
    path: str


@dataclass(frozen=True)
class Function:
    logical_id: str
    domain: str
    service: str
    memory_mb: int
    timeout_s: int
    alias: str | None
    routes: tuple[Route, ...]
    triggers: tuple[str, ...]  # SQS, DynamoDB, ScheduleV2, Api, ...
    provisioned: bool  # an Application Auto Scaling target manages its provisioned concurrency


@dataclass(frozen=True)
class Queue:
    logical_id: str
    dead_letter: bool
    visibility_timeout_s: int


@dataclass(frozen=True)
class Alarm:
    logical_id: str
    severity: str | None


@dataclass(frozen=True)
class BusinessMetric:
    name: str
    service: str


@dataclass
class TemplateView:
    template: dict[str, Any]
    source_root: Path = FUNCTIONS_DIR
    _resources: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self._resources = self.template.get("Resources", {})

    # ------------------------------------------------------------------ template
    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self._resources.items()
            if resource.get("Type") in types and "Condition" not in resource
        }

    @cached_property
    def functions(self) -> list[Function]:
        globals_ = self.template.get("Globals", {}).get("Function", {})
        scaled = self._scaled_functions()
        found = []
        for name, resource in sorted(self.of_type("AWS::Serverless::Function").items()):
            props = resource.get("Properties", {})
            env = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            events = props.get("Events") or {}
            routes = tuple(
                Route(e["Properties"]["Method"].upper(), e["Properties"]["Path"])
                for e in events.values()
                if e.get("Type") == "Api"
            )
            found.append(
                Function(
                    logical_id=name,
                    domain=str(props.get("Handler", "")).split(".", 1)[0],
                    service=str(env.get("POWERTOOLS_SERVICE_NAME", "service_undefined")),
                    memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                    timeout_s=int(props.get("Timeout", globals_.get("Timeout", 3))),
                    alias=props.get("AutoPublishAlias", globals_.get("AutoPublishAlias")),
                    routes=routes,
                    triggers=tuple(sorted({e.get("Type", "") for e in events.values()})),
                    provisioned=name in scaled,
                )
            )
        return found

    def _scaled_functions(self) -> set[str]:
        """Functions whose alias an Application Auto Scaling target manages (even under a
        condition: the dashboard shows their utilization whenever there is one)."""
        scaled = set()
        for resource in self._resources.values():
            if resource.get("Type") != "AWS::ApplicationAutoScaling::ScalableTarget":
                continue
            resource_id = resource.get("Properties", {}).get("ResourceId")
            text = resource_id.get("Fn::Sub") if isinstance(resource_id, dict) else resource_id
            if isinstance(text, str) and text.startswith("function:${"):
                scaled.add(text[len("function:${") :].split("}", 1)[0])
        return scaled

    @cached_property
    def queues(self) -> list[Queue]:
        return [
            Queue(
                logical_id=name,
                dead_letter="RedrivePolicy" not in resource.get("Properties", {}),
                visibility_timeout_s=int(
                    resource.get("Properties", {}).get("VisibilityTimeout", 30)
                ),
            )
            for name, resource in sorted(self.of_type("AWS::SQS::Queue").items())
        ]

    @cached_property
    def tables(self) -> list[str]:
        return sorted(self.of_type("AWS::DynamoDB::Table"))

    @cached_property
    def stream_consumers(self) -> list[str]:
        return [f.logical_id for f in self.functions if "DynamoDB" in f.triggers]

    @cached_property
    def severity_topics(self) -> dict[str, str]:
        """``{severity: topic logical id}``: topics tagged ``severity``."""
        topics = {}
        for name, resource in self.of_type("AWS::SNS::Topic").items():
            for tag in resource.get("Properties", {}).get("Tags") or []:
                if tag.get("Key") == "severity" and tag.get("Value") in SEVERITIES:
                    topics[tag["Value"]] = name
        return topics

    @cached_property
    def alarms(self) -> list[Alarm]:
        by_topic = {topic: severity for severity, topic in self.severity_topics.items()}
        found = []
        for name, resource in sorted(self.of_type("AWS::CloudWatch::Alarm").items()):
            actions = resource.get("Properties", {}).get("AlarmActions") or []
            severities = {
                by_topic.get(a["Ref"]) for a in actions if isinstance(a, dict) and "Ref" in a
            }
            severities.discard(None)
            found.append(Alarm(name, severities.pop() if len(severities) == 1 else None))
        return found

    # ------------------------------------------------------------------ code
    @cached_property
    def business_metrics(self) -> list[BusinessMetric]:
        """Metrics the code counts by name: ``add_metric(name="X")`` and ``_metric("X")``
        calls with a literal name, attributed to the service of the domain's functions."""
        services = {f.domain: f.service for f in self.functions}
        found: set[BusinessMetric] = set()
        for path in sorted(self.source_root.rglob("*.py")):
            domain = path.relative_to(self.source_root).parts[0]
            if domain not in services:
                continue
            for name in _metric_names(path):
                found.add(BusinessMetric(name, services[domain]))
        return sorted(found, key=lambda m: (m.service, m.name))

    @cached_property
    def domain_events(self) -> dict[str, list[str]]:
        """``{domain: [event type, ...]}`` from ``detail_type = "X"`` in each domain's models."""
        events: dict[str, list[str]] = {}
        for path in sorted(self.source_root.glob("*/models.py")):
            types = _detail_types(path)
            if types:
                events[path.parent.name] = types
        return events


def _metric_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called == "add_metric":
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    names.append(str(keyword.value.value))
        elif (
            called == "_metric"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def _detail_types(path: Path) -> list[str]:
    types = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "detail_type" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            types.append(node.value.value)
    return sorted(set(types))
