"""AgentHub guardrails as cfn-lint rules (run: see infra/lint/README.md).

Each rule checks both spellings of a resource, because cfn-lint 1.x no longer expands the SAM
transform before the rules run (it only merges ``Globals``): a rule sees
``AWS::Serverless::Function`` with its ``Events`` *and* must keep working on plain
CloudFormation (``AWS::Lambda::Function``, ``AWS::Lambda::EventSourceMapping``,
``AWS::Scheduler::Schedule``), which is what SAM produces and what nested templates may use.

cfn-lint loads every ``[A-Za-z1-9]*.py`` file of the folder as a standalone module and
instantiates every ``CloudFormationLintRule`` subclass it finds, so the rules share plain
helper functions here instead of a base class (a base class would be loaded as a rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
EVENT_SOURCE_OWNERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
# Keys under which a template points at a dead-letter target. A queue found under one of them
# is a DLQ: it needs no redrive policy of its own, but it needs an alarm on its depth.
DEAD_LETTER_KEYS = frozenset(
    {"deadLetterTargetArn", "DeadLetterConfig", "DeadLetterQueue", "OnFailure"}
)
DLQ_METRIC = "ApproximateNumberOfMessagesVisible"
_SUB_WHOLE_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


# ------------------------------------------------------------------ helpers
def _resources(cfn: Any) -> Mapping[str, Mapping[str, Any]]:
    resources = cfn.template.get("Resources", {})
    return resources if isinstance(resources, dict) else {}


def _of_type(cfn: Any, *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, resource in _resources(cfn).items():
        if isinstance(resource, dict) and resource.get("Type") in types:
            yield name, _props(resource)


def _props(node: Any, key: str = "Properties") -> Mapping[str, Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def _target(value: Any) -> str | None:
    """The logical id that ``!Ref X``, ``!GetAtt X.Arn`` or ``!Sub "${X.Arn}"`` points at."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((fn, arg),) = value.items()
    if fn == "Ref" and isinstance(arg, str):
        return arg
    if fn == "Fn::GetAtt":
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            return arg[0]
        if isinstance(arg, str):
            return arg.split(".", 1)[0]
    if fn == "Fn::Sub":
        text = arg[0] if isinstance(arg, list) and arg else arg
        if isinstance(text, str) and (found := _SUB_WHOLE_REF.fullmatch(text)):
            return found.group(1)
    return None


def _text(value: Any) -> str | None:
    """A literal string, or the pattern of a one-argument ``!Sub`` (compared as text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    return None


def _queues(cfn: Any) -> dict[str, Mapping[str, Any]]:
    return dict(_of_type(cfn, "AWS::SQS::Queue"))


def _is_queue(value: Any, queues: Mapping[str, Any]) -> bool:
    """True when an ARN value names an SQS queue: a queue of this template or an SQS ARN."""
    if _target(value) in queues:
        return True
    text = _text(value)
    return bool(text and text.startswith("arn:") and ":sqs:" in text)


def _dead_letter_queues(cfn: Any) -> set[str]:
    queues = _queues(cfn)
    found: set[str] = set()

    def walk(node: Any, under_dead_letter_key: bool) -> None:
        if isinstance(node, dict):
            if under_dead_letter_key and (name := _target(node)) in queues:
                found.add(name)
                return
            for key, value in node.items():
                # RedrivePolicy may be written as a JSON string
                child = _json_or_none(value) if isinstance(value, str) else value
                walk(child, under_dead_letter_key or key in DEAD_LETTER_KEYS)
        elif isinstance(node, list):
            for item in node:
                walk(item, under_dead_letter_key)

    walk(_resources(cfn), False)
    return found


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _events(cfn: Any, *event_types: str) -> Iterator[tuple[list[Any], Mapping[str, Any]]]:
    """SAM ``Events`` entries of the given types as (path, Properties)."""
    for name, props in _of_type(cfn, *EVENT_SOURCE_OWNERS):
        events = props.get("Events")
        if not isinstance(events, dict):
            continue
        for event_name, event in events.items():
            if isinstance(event, dict) and event.get("Type") in event_types:
                path = ["Resources", name, "Properties", "Events", event_name]
                yield path, _props(event)


# ------------------------------------------------------------------ rules
class LambdaLogGroupWithRetention(CloudFormationLintRule):
    """(a) Every function writes to a log group this template declares, with a retention."""

    id = "E9001"
    shortdesc = "Lambda function has an explicit log group with retention"
    description = (
        "Every Lambda function needs an AWS::Logs::LogGroup with RetentionInDays, referenced "
        "through LoggingConfig.LogGroup or named /aws/lambda/<function name>; otherwise Lambda "
        "creates one that keeps logs forever and that the stack does not own."
    )
    tags = ["agenthub", "logs", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        groups = dict(_of_type(cfn, "AWS::Logs::LogGroup"))
        matches = []
        for name, props in _of_type(cfn, *FUNCTION_TYPES):
            group = _log_group_of(name, props, groups)
            if group is None:
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"Function {name} has no explicit log group: set LoggingConfig.LogGroup "
                        "to an AWS::Logs::LogGroup of this template, or declare a log group "
                        f"named /aws/lambda/<{name}'s name>",
                    )
                )
            elif "RetentionInDays" not in groups[group]:
                matches.append(
                    RuleMatch(
                        ["Resources", group, "Properties"],
                        f"Log group {group} (of function {name}) has no RetentionInDays",
                    )
                )
        return matches


def _log_group_of(
    function: str, props: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]]
) -> str | None:
    configured = _props(props, "LoggingConfig").get("LogGroup")
    if configured is not None:
        if (ref := _target(configured)) in groups:
            return ref
        wanted = _text(configured)
        return next((g for g, p in groups.items() if _text(p.get("LogGroupName")) == wanted), None)
    own_names = {f"/aws/lambda/${{{function}}}"}
    if (function_name := _text(props.get("FunctionName"))) is not None:
        own_names.add(f"/aws/lambda/{function_name}")
    for group, group_props in groups.items():
        group_name = group_props.get("LogGroupName")
        if _text(group_name) in own_names or _joined_ref(group_name) == function:
            return group
    return None


def _joined_ref(value: Any) -> str | None:
    """``!Join ["", ["/aws/lambda/", !Ref Fn]]`` -> ``Fn``."""
    if not (isinstance(value, dict) and set(value) == {"Fn::Join"}):
        return None
    args = value["Fn::Join"]
    if isinstance(args, list) and len(args) == 2 and args[0] == "" and isinstance(args[1], list):
        parts = args[1]
        if len(parts) == 2 and parts[0] == "/aws/lambda/":
            return _target(parts[1])
    return None


class QueueHasDeadLetterQueue(CloudFormationLintRule):
    """(b) Every queue that is not itself a DLQ redrives to one."""

    id = "E9002"
    shortdesc = "SQS queue has a redrive policy to a dead-letter queue"
    description = (
        "Every SQS queue that is not a dead-letter queue needs RedrivePolicy with "
        "deadLetterTargetArn, so a poison message ends in a DLQ instead of cycling forever."
    )
    tags = ["agenthub", "sqs"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        dead_letter = _dead_letter_queues(cfn)
        matches = []
        for name, props in _queues(cfn).items():
            if name in dead_letter:
                continue
            redrive = props.get("RedrivePolicy")
            if isinstance(redrive, str):
                redrive = _json_or_none(redrive)
            if not (isinstance(redrive, dict) and redrive.get("deadLetterTargetArn")):
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"Queue {name} has no RedrivePolicy.deadLetterTargetArn (and no other "
                        "resource uses it as a dead-letter queue)",
                    )
                )
        return matches


class DeadLetterQueueHasAlarm(CloudFormationLintRule):
    """(b) Every DLQ has an alarm on its depth: a message there is a failure nobody saw."""

    id = "E9003"
    shortdesc = "Dead-letter queue has a depth alarm"
    description = (
        "Every SQS queue used as a dead-letter target needs an AWS::CloudWatch::Alarm on "
        f"AWS/SQS {DLQ_METRIC} with a QueueName dimension naming it."
    )
    tags = ["agenthub", "sqs", "alarms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        queues = _queues(cfn)
        watched: set[str] = set()
        for _, alarm in _of_type(cfn, "AWS::CloudWatch::Alarm"):
            for metric in _alarm_metrics(alarm):
                if metric.get("MetricName") != DLQ_METRIC or metric.get("Namespace") != "AWS/SQS":
                    continue
                for dimension in metric.get("Dimensions") or []:
                    if isinstance(dimension, dict) and dimension.get("Name") == "QueueName":
                        watched.update(_queues_named(dimension.get("Value"), queues))
        return [
            RuleMatch(
                ["Resources", name],
                f"Dead-letter queue {name} has no CloudWatch alarm on {DLQ_METRIC}",
            )
            for name in sorted(_dead_letter_queues(cfn) - watched)
        ]


def _alarm_metrics(alarm: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield alarm
    for query in alarm.get("Metrics") or []:
        metric = _props(_props(query, "MetricStat"), "Metric") if isinstance(query, dict) else {}
        if metric:
            yield metric


def _queues_named(value: Any, queues: Mapping[str, Mapping[str, Any]]) -> set[str]:
    ref = _target(value)
    if ref is not None and ref in queues:
        return {ref}
    wanted = _text(value)
    return {q for q, props in queues.items() if wanted and _text(props.get("QueueName")) == wanted}


class SqsEventSourceReportsBatchItemFailures(CloudFormationLintRule):
    """(c) SQS consumers answer with partial batch failures, so one bad message is retried alone."""

    id = "E9004"
    shortdesc = "SQS event source mapping uses ReportBatchItemFailures"
    description = (
        "Every SQS event source (AWS::Lambda::EventSourceMapping or a SAM SQS event) needs "
        "FunctionResponseTypes: [ReportBatchItemFailures]; without it one failed message makes "
        "the whole batch visible again and every other message is processed twice."
    )
    tags = ["agenthub", "sqs", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        queues = _queues(cfn)
        sources: list[tuple[list[Any], Mapping[str, Any]]] = [
            (["Resources", name], props)
            for name, props in _of_type(cfn, "AWS::Lambda::EventSourceMapping")
            if _is_queue(props.get("EventSourceArn"), queues)
        ]
        sources.extend(_events(cfn, "SQS"))
        return [
            RuleMatch(path, f"SQS event source {path[-1]} lacks ReportBatchItemFailures")
            for path, props in sources
            if "ReportBatchItemFailures" not in (props.get("FunctionResponseTypes") or [])
        ]


class ScheduleHasDeadLetterAndRetry(CloudFormationLintRule):
    """(d) A schedule that cannot deliver must say so: retry policy plus a declared DLQ."""

    id = "E9005"
    shortdesc = "Schedule has a DeadLetterConfig and a RetryPolicy"
    description = (
        "Every AWS::Scheduler::Schedule target, SAM ScheduleV2/Schedule event and target of a "
        "scheduled AWS::Events::Rule needs RetryPolicy and DeadLetterConfig.Arn. The DLQ is "
        "named explicitly (not SAM's generated one) so it is a queue of this template and gets "
        "its depth alarm (E9003)."
    )
    tags = ["agenthub", "scheduler", "eventbridge"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        checked: list[tuple[list[Any], Mapping[str, Any]]] = [
            (["Resources", name, "Properties"], _props(props, "Target"))
            for name, props in _of_type(cfn, "AWS::Scheduler::Schedule")
        ]
        checked.extend(_events(cfn, "ScheduleV2", "Schedule"))
        for name, props in _of_type(cfn, "AWS::Events::Rule"):
            if "ScheduleExpression" in props:
                targets = props.get("Targets") or []
                for index, target in enumerate(targets):
                    path = ["Resources", name, "Properties", "Targets", index]
                    checked.append((path, target if isinstance(target, dict) else {}))
        matches = []
        for path, target in checked:
            missing = []
            if not _props(target, "DeadLetterConfig").get("Arn"):
                missing.append("DeadLetterConfig.Arn")
            if not isinstance(target.get("RetryPolicy"), dict):
                missing.append("RetryPolicy")
            if missing:
                where = "/".join(str(p) for p in path[1:])
                matches.append(RuleMatch(path, f"Schedule {where} lacks {', '.join(missing)}"))
        return matches


class RuleSqsTargetHasDeadLetter(CloudFormationLintRule):
    """(e) EventBridge drops an event it cannot put on a queue unless the target has a DLQ."""

    id = "E9006"
    shortdesc = "EventBridge rule target that is SQS has a DeadLetterConfig"
    description = (
        "Every AWS::Events::Rule target whose Arn is an SQS queue needs DeadLetterConfig.Arn: "
        "delivery fails when the queue policy or encryption key refuses EventBridge, and "
        "without a DLQ those events vanish."
    )
    tags = ["agenthub", "eventbridge", "sqs"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        queues = _queues(cfn)
        matches = []
        for name, props in _of_type(cfn, "AWS::Events::Rule"):
            for index, target in enumerate(props.get("Targets") or []):
                if not isinstance(target, dict) or not _is_queue(target.get("Arn"), queues):
                    continue
                if not _props(target, "DeadLetterConfig").get("Arn"):
                    target_id = target.get("Id", index)
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "Targets", index],
                            f"Rule {name} target {target_id} (SQS) has no DeadLetterConfig.Arn",
                        )
                    )
        return matches


# ------------------------------------------------------------------ severities and deployments
SEVERITY_TAG = "severity"
SEVERITIES = ("critical", "warning", "info")


def _severity_topics(cfn: Any) -> dict[str, str]:
    """``{topic logical id: severity}`` of the SNS topics tagged ``severity``."""
    found = {}
    for name, props in _of_type(cfn, "AWS::SNS::Topic"):
        for tag in props.get("Tags") or []:
            if (
                isinstance(tag, dict)
                and tag.get("Key") == SEVERITY_TAG
                and tag.get("Value") in SEVERITIES
            ):
                found[name] = tag["Value"]
    return found


def _alarm_severities(props: Mapping[str, Any], topics: Mapping[str, str]) -> set[str]:
    actions = props.get("AlarmActions") or []
    return {topics[t] for a in actions if (t := _target(a)) is not None and t in topics}


class DeadLetterQueueAlarmIsCritical(CloudFormationLintRule):
    """A message in a dead-letter queue is work that failed for good: someone must act now."""

    id = "E9007"
    shortdesc = "Dead-letter queue depth alarm notifies the critical topic"
    description = (
        f"Every dead-letter queue needs a depth alarm ({DLQ_METRIC}) whose AlarmActions name an "
        f"SNS topic tagged {SEVERITY_TAG}=critical (E9003 only asks for an alarm)."
    )
    tags = ["agenthub", "sqs", "alarms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        queues = _queues(cfn)
        topics = _severity_topics(cfn)
        critical: set[str] = set()
        for _, alarm in _of_type(cfn, "AWS::CloudWatch::Alarm"):
            if "critical" not in _alarm_severities(alarm, topics):
                continue
            for metric in _alarm_metrics(alarm):
                if metric.get("MetricName") == DLQ_METRIC and metric.get("Namespace") == "AWS/SQS":
                    for dimension in metric.get("Dimensions") or []:
                        if isinstance(dimension, dict) and dimension.get("Name") == "QueueName":
                            critical.update(_queues_named(dimension.get("Value"), queues))
        return [
            RuleMatch(
                ["Resources", name],
                f"Dead-letter queue {name} has no depth alarm that notifies a topic tagged "
                f"{SEVERITY_TAG}=critical",
            )
            for name in sorted(_dead_letter_queues(cfn) - critical)
        ]


class AlarmHasOneSeverity(CloudFormationLintRule):
    """Each alarm is routed by the seed's severities: exactly one of critical, warning, info."""

    id = "E9008"
    shortdesc = "Alarm notifies exactly one severity topic"
    description = (
        "Every AWS::CloudWatch::Alarm needs AlarmActions naming exactly one SNS topic tagged "
        f"{SEVERITY_TAG} ({', '.join(SEVERITIES)}), so each alarm reaches the people its "
        "severity is for, once."
    )
    tags = ["agenthub", "alarms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        topics = _severity_topics(cfn)
        matches = []
        for name, alarm in _of_type(cfn, "AWS::CloudWatch::Alarm"):
            found = _alarm_severities(alarm, topics)
            if len(found) != 1:
                said = ", ".join(sorted(found)) or "none"
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"Alarm {name} notifies {said}: it needs exactly one topic tagged "
                        f"{SEVERITY_TAG}",
                    )
                )
        return matches


PC_DIMENSION = "lambda:function:ProvisionedConcurrency"


class ProvisionedConcurrencyScaling(CloudFormationLintRule):
    """Provisioned concurrency under Application Auto Scaling, the way that survives deploys."""

    id = "E9009"
    shortdesc = "Scaled provisioned concurrency never reaches 0 and has one owner"
    description = (
        "A ScalableTarget of lambda:function:ProvisionedConcurrency and each of its scheduled "
        "actions keep MinCapacity >= 1 (a literal, or a parameter whose MinValue >= 1): a config "
        "scaled to 0 makes the next deployment fail. The function it manages sets no "
        "ProvisionedConcurrencyConfig (two owners fight) and, as a SAM function with "
        "AutoPublishAlias, has a DeploymentPreference (without one the second deploy fails)."
    )
    tags = ["agenthub", "lambda", "autoscaling"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        functions = dict(_of_type(cfn, *FUNCTION_TYPES))
        matches = []
        for name, props in _of_type(cfn, "AWS::ApplicationAutoScaling::ScalableTarget"):
            if props.get("ScalableDimension") != PC_DIMENSION:
                continue
            path = ["Resources", name, "Properties"]
            if not _at_least_one(props.get("MinCapacity"), parameters):
                matches.append(RuleMatch([*path, "MinCapacity"], f"{name}: MinCapacity may be 0"))
            for index, action in enumerate(props.get("ScheduledActions") or []):
                minimum = _props(action, "ScalableTargetAction").get("MinCapacity")
                if not _at_least_one(minimum, parameters):
                    matches.append(
                        RuleMatch(
                            [*path, "ScheduledActions", index],
                            f"{name}: scheduled action {index} may scale to 0",
                        )
                    )
            function = _scaled_function(props.get("ResourceId"))
            function_props = functions.get(function or "")
            if function_props is None:
                continue
            if function_props.get("ProvisionedConcurrencyConfig"):
                matches.append(
                    RuleMatch(
                        ["Resources", function, "Properties", "ProvisionedConcurrencyConfig"],
                        f"{function} sets ProvisionedConcurrencyConfig but {name} manages it",
                    )
                )
            if "AutoPublishAlias" in function_props and not function_props.get(
                "DeploymentPreference"
            ):
                matches.append(
                    RuleMatch(
                        ["Resources", function],
                        f"{function} has scaled provisioned concurrency but no "
                        "DeploymentPreference",
                    )
                )
        return matches


def _at_least_one(value: Any, parameters: Mapping[str, Any]) -> bool:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value) >= 1
    ref = value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None
    parameter = parameters.get(ref) if isinstance(ref, str) else None
    if isinstance(parameter, dict):
        minimum = parameter.get("MinValue")
        return minimum is not None and float(minimum) >= 1
    return False


def _scaled_function(resource_id: Any) -> str | None:
    """``!Sub function:${Fn}:live`` -> ``Fn``."""
    text = _text(resource_id)
    if text and text.startswith("function:${"):
        return text[len("function:${") :].split("}", 1)[0]
    return None


class CanaryAlarmScopedToNewVersion(CloudFormationLintRule):
    """A canary is judged on the new version's failures, not on the old version's."""

    id = "E9010"
    shortdesc = "Gradual deployment has an alarm scoped to the function's new version"
    description = (
        "Every SAM function with AutoPublishAlias and a DeploymentPreference lists, in "
        "DeploymentPreference.Alarms, an alarm whose metric has the dimension ExecutedVersion "
        "= !GetAtt <function>.Version.Version; an alarm on the whole function or API would roll "
        "back a healthy new version for the old one's errors, or miss the new one's."
    )
    tags = ["agenthub", "lambda", "deployment"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        alarms = dict(_of_type(cfn, "AWS::CloudWatch::Alarm"))
        matches = []
        for name, props in _of_type(cfn, "AWS::Serverless::Function"):
            preference = props.get("DeploymentPreference")
            if "AutoPublishAlias" not in props or not isinstance(preference, dict):
                continue
            listed = {_target(a) for a in preference.get("Alarms") or []}
            if not any(_scoped_to_version(alarms.get(a or "", {}), name) for a in listed):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "DeploymentPreference"],
                        f"{name}: no DeploymentPreference alarm is scoped to its new version "
                        "(ExecutedVersion dimension)",
                    )
                )
        return matches


def _scoped_to_version(alarm: Mapping[str, Any], function: str) -> bool:
    for metric in _alarm_metrics(alarm):
        for dimension in metric.get("Dimensions") or []:
            if not (isinstance(dimension, dict) and dimension.get("Name") == "ExecutedVersion"):
                continue
            value = dimension.get("Value")
            attribute = value.get("Fn::GetAtt") if isinstance(value, dict) else None
            if isinstance(attribute, list):
                attribute = ".".join(str(part) for part in attribute)
            if attribute == f"{function}.Version.Version":
                return True
    return False
