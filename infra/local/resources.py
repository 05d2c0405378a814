"""Create the template's resources in the moto server, in dependency order.

The resources come from samtranslator's CloudFormation, so what exists locally is what the
template declares, never a second list. Each supported type has a small creator returning what
``Ref`` and ``Fn::GetAtt`` give; other types (IAM, alarms, Lambda, API Gateway, CodeDeploy,
policies) are not created but get placeholder values so references to them still resolve.
"""

from __future__ import annotations

import graphlib
import json
import logging
import os
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local import ACCOUNT_ID, REGION
from infra.local.intrinsics import Resolver, references
from infra.local.template import TemplateModel, function_arn

LOG = logging.getLogger("infra.local")
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class ProvisionError(RuntimeError):
    """A resource of the template could not be created in moto."""


@dataclass
class StackState:
    """What the local stack holds: Ref values, GetAtt attributes and generated secrets."""

    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    generated_secrets: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"refs": self.refs, "attrs": self.attrs, "types": self.types}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        return cls(refs=data["refs"], attrs=data["attrs"], types=data.get("types", {}))


class _Placeholder(dict):
    """GetAtt of a resource we do not create: a stable fake value instead of a failure."""

    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __missing__(self, attribute: str) -> str:
        return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{self.logical_id}/{attribute}"


_session_lock = threading.Lock()
_session: Any = None


def boto_client(service: str, endpoint_url: str | None) -> Any:
    """A boto3 client for the moto server (fake credentials, fixed region, no ~/.aws files);
    with no ``endpoint_url``, for AWS's endpoints, which moto's in-process mock answers.

    One shared session: its loader caches service models, which makes every client after the
    first several times cheaper to create. Clients are thread-safe; sessions are not, hence
    the lock.
    """
    global _session  # noqa: PLW0603 - one session per process
    with _session_lock:
        if _session is None:
            import boto3
            import botocore.session

            core = botocore.session.Session()
            core.set_config_variable("config_file", os.devnull)
            core.set_config_variable("credentials_file", os.devnull)
            _session = boto3.session.Session(botocore_session=core, **FAKE_CREDENTIALS)
        return _session.client(service, endpoint_url=endpoint_url, region_name=REGION)


class Provisioner:
    """Creates the template's resources in moto (a server at ``endpoint_url``, or the
    in-process mock when it is None) and records their Ref/GetAtt values."""

    def __init__(self, model: TemplateModel, endpoint_url: str | None) -> None:
        self.model = model
        self.endpoint_url = endpoint_url
        self.state = StackState()
        self.resolver: Resolver = model.resolver(self.state.refs, self.state.attrs)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto_client(service, self.endpoint_url)
        return self._clients[service]

    def create_all(self) -> StackState:
        """Create every supported resource; returns the stack state."""
        for logical_id in _creation_order(self.model.cfn["Resources"]):
            self.create(logical_id)
        return self.state

    def create(self, logical_id: str) -> None:
        """Create one resource (again, after it was deleted) once those it refers to exist."""
        resource = self.model.cfn["Resources"][logical_id]
        condition = resource.get("Condition")
        if condition and not self.resolver.condition(condition):
            return
        kind = resource["Type"]
        self.state.types[logical_id] = kind
        creator = _CREATORS.get(kind)
        if creator is None:
            self._placeholder(logical_id, kind, resource)
            return
        props = self.resolver.resolve(resource.get("Properties") or {})
        try:
            ref, attrs = creator(self, logical_id, props)
        except Exception as exc:
            raise ProvisionError(f"{logical_id} ({kind}): {exc}") from exc
        self.state.refs[logical_id] = ref
        self.state.attrs[logical_id] = attrs

    def physical_name(self, logical_id: str, props: dict[str, Any], key: str, limit: int) -> str:
        """The name the template gives, or CloudFormation's ``<stack>-<LogicalId>`` pattern."""
        return str(props.get(key) or f"{self.model.stack_name}-{logical_id}")[:limit]

    def _placeholder(self, logical_id: str, kind: str, resource: dict[str, Any]) -> None:
        props = resource.get("Properties") or {}
        attrs = _Placeholder(logical_id)
        if kind == "AWS::Lambda::Function":
            name = self._safe_resolve(props.get("FunctionName")) or logical_id
            ref: Any = name
            attrs["Arn"] = function_arn(name)
        elif kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            target = (props.get("FunctionName") or {}).get("Ref", logical_id)
            suffix = props.get("Name", "1") if kind == "AWS::Lambda::Alias" else "1"
            ref = f"{function_arn(self.state.refs.get(target, target))}:{suffix}"
            attrs["Version"] = "1"
        elif kind == "AWS::ApiGateway::RestApi":
            ref = "1234567890"  # the api id sam local puts in every event
        else:
            ref = logical_id
        self.state.refs[logical_id] = ref
        self.state.attrs[logical_id] = attrs
        self.state.skipped[logical_id] = kind

    def _safe_resolve(self, value: Any) -> Any:
        try:
            return self.resolver.resolve(value)
        except LookupError:
            return None


def _creation_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids ordered so every resource comes after the ones it refers to."""
    graph = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        found = references(resource.get("Properties") or {}) | set(depends_on)
        graph[logical_id] = {name for name in found if name in resources and name != logical_id}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise ProvisionError(f"circular reference through {' -> '.join(exc.args[1])}") from None


# ---------------------------------------------------------------------- creators
Creator = Callable[[Provisioner, str, dict[str, Any]], tuple[Any, dict[str, Any]]]


def _table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "TableName", 255)
    ddb = p.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    throughput = props.get("ProvisionedThroughput")
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = throughput or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            kwargs[key] = [
                {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                for index in props[key]
            ]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **stream}
    table = ddb.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    attrs = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attrs["StreamArn"] = table["LatestStreamArn"]
    return name, attrs


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def _queue(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = p.physical_name(logical_id, props, "QueueName", 75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: _text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            value = props[key]
            attributes[key] = value if isinstance(value, str) else json.dumps(value)
    sqs = p.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _topic(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "TopicName", 256)
    attributes = {k: _text(props[k]) for k in ("FifoTopic", "DisplayName") if k in props}
    sns = p.client("sns")
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription") or []:
        _subscribe(p, arn, subscription)
    return arn, {"TopicArn": arn, "TopicName": name}


def _subscription(
    p: Provisioner, logical_id: str, props: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    arn = _subscribe(p, props["TopicArn"], props)
    return arn or logical_id, {}


def _subscribe(p: Provisioner, topic_arn: str, props: dict[str, Any]) -> str | None:
    protocol = props.get("Protocol")
    if protocol not in ("sqs", "http", "https"):
        LOG.info("SNS %s subscription of %s is not emulated locally", protocol, topic_arn)
        return None
    attributes = {}
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
    if "RawMessageDelivery" in props:
        attributes["RawMessageDelivery"] = _text(props["RawMessageDelivery"])
    response = p.client("sns").subscribe(
        TopicArn=topic_arn, Protocol=protocol, Endpoint=props["Endpoint"], Attributes=attributes
    )
    return response.get("SubscriptionArn")


def _bucket(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "BucketName", 63).lower()
    s3 = p.client("s3")
    s3.create_bucket(Bucket=name)
    if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    cors_rules = (props.get("CorsConfiguration") or {}).get("CorsRules")
    if cors_rules:  # browsers upload to presigned URLs on the moto endpoint
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": _cors_rules(cors_rules)})
    notifications = _bucket_notifications(props.get("NotificationConfiguration") or {})
    if notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=notifications
        )
    return name, {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{REGION}.amazonaws.com",
    }


def _cors_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    renamed = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders", "Id": "ID"}
    return [{renamed.get(key, key): value for key, value in rule.items()} for rule in rules]


def _bucket_notifications(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's notification shape → the S3 API's; Lambda targets are not emulated."""
    out: dict[str, Any] = {}
    for cfn_key, target_key in (("QueueConfigurations", "Queue"), ("TopicConfigurations", "Topic")):
        items = []
        for item in config.get(cfn_key) or []:
            entry: dict[str, Any] = {
                f"{target_key}Arn": item[target_key],
                "Events": [item["Event"]],
            }
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            items.append(entry)
        if items:
            out[cfn_key] = items
    if config.get("LambdaConfigurations"):
        LOG.warning("S3 → Lambda notifications are not emulated locally")
    return out


def _secret(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "Name", 512)
    value = props.get("SecretString")
    if value is None:
        value = generate_secret_string(props.get("GenerateSecretString") or {})
        p.state.generated_secrets[logical_id] = value
    kwargs = {"Name": name, "SecretString": value}
    if props.get("Description"):
        kwargs["Description"] = props["Description"]
    arn = p.client("secretsmanager").create_secret(**kwargs)["ARN"]
    return arn, {"Id": arn}


_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def generate_secret_string(spec: dict[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString makes: a random password, alone or put under
    ``GenerateStringKey`` in ``SecretStringTemplate``. Uses ``secrets`` (not moto's RNG)."""

    def flag(key: str) -> bool:
        return str(spec.get(key, "false")).lower() == "true"

    classes = []
    if not flag("ExcludeLowercase"):
        classes.append(string.ascii_lowercase)
    if not flag("ExcludeUppercase"):
        classes.append(string.ascii_uppercase)
    if not flag("ExcludeNumbers"):
        classes.append(string.digits)
    if not flag("ExcludePunctuation"):
        classes.append(_PUNCTUATION)
    if flag("IncludeSpace"):
        classes.append(" ")
    excluded = set(spec.get("ExcludeCharacters", ""))
    classes = [c for c in ("".join(ch for ch in cls if ch not in excluded) for cls in classes) if c]
    alphabet = "".join(classes)
    length = int(spec.get("PasswordLength", 32))
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        # RequireEachIncludedType defaults to true in Secrets Manager.
        if spec.get("RequireEachIncludedType") is False or len(classes) > length:
            break
        if all(any(ch in cls for ch in password) for cls in classes):
            break
    template = spec.get("SecretStringTemplate")
    if template is None:
        return password
    document = json.loads(template)
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


def _event_bus(
    p: Provisioner, logical_id: str, props: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    name = props["Name"]
    arn = p.client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"Arn": arn, "Name": name}


def _bus_name(value: str | None) -> str:
    if not value:
        return "default"
    return value.split("event-bus/", 1)[-1]


_TARGET_KEYS = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters")
_MOTO_TARGET_SERVICES = (":sqs:", ":sns:", ":events:", ":logs:")


def _rule(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "Name", 64)
    bus = _bus_name(props.get("EventBusName"))
    kwargs: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "State": props.get("State", "ENABLED"),
    }
    if props.get("EventPattern"):
        pattern = props["EventPattern"]
        kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if props.get("ScheduleExpression"):
        kwargs["ScheduleExpression"] = props["ScheduleExpression"]
    events = p.client("events")
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for target in props.get("Targets") or []:
        if any(service in target["Arn"] for service in _MOTO_TARGET_SERVICES):
            targets.append({k: target[k] for k in _TARGET_KEYS if k in target})
        elif not props.get("ScheduleExpression"):
            # Schedules are fired by the runtime itself (infra.local.schedules).
            LOG.warning("rule %s: target %s is not emulated locally", logical_id, target["Arn"])
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    ref = name if bus == "default" else f"{bus}|{name}"
    return ref, {"Arn": arn}


def _archive(p: Provisioner, logical_id: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "ArchiveName", 48)
    kwargs: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    for key in ("Description", "RetentionDays"):
        if key in props:
            kwargs[key] = props[key]
    if props.get("EventPattern"):
        kwargs["EventPattern"] = json.dumps(props["EventPattern"])
    arn = p.client("events").create_archive(**kwargs)["ArchiveArn"]
    return name, {"Arn": arn}


def _log_group(
    p: Provisioner, logical_id: str, props: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "LogGroupName", 512)
    logs = p.client("logs")
    logs.create_log_group(logGroupName=name)
    if props.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return name, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"}


def _parameter(
    p: Provisioner, logical_id: str, props: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    name = p.physical_name(logical_id, props, "Name", 2048)
    p.client("ssm").put_parameter(Name=name, Value=_text(props["Value"]), Type=props["Type"])
    return name, {"Type": props["Type"], "Value": props["Value"]}


def _email_identity(
    p: Provisioner, logical_id: str, props: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    identity = str(props["EmailIdentity"])
    ses = p.client("ses")
    if "@" in identity:
        ses.verify_email_identity(EmailAddress=identity)
    else:
        ses.verify_domain_identity(Domain=identity)
    return identity, {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::S3::Bucket": _bucket,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SSM::Parameter": _parameter,
    "AWS::SES::EmailIdentity": _email_identity,
}

SUPPORTED_TYPES = tuple(_CREATORS)
