"""The integration harness: the template's resources in moto, real events, real handlers.

Everything here reads ``template.yaml`` rather than restating it: the table is created from
the template's own properties, the routes (path, method, function, authorizer) come from the
functions' ``Api`` events, and the rule that captures domain events is the template's
``AuditRule`` delivering to the template's ``AuditQueue``. A drift between template and code
therefore fails a test here instead of surprising someone after a deploy.

Requests go through the same files as ``make invoke`` (``events/<domain>/...json``): a test
loads the route's sample event and overrides path, body, headers and the authorizer context.
``gateway()`` goes one step further and plays API Gateway: identity sources, the real
authorizer, its IAM policy, then the handler.
"""

from __future__ import annotations

import base64
import fnmatch
import importlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from tests.support.aws import create_table_from_template, load_template
from tests.support.events import load_event

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STAGE = "itest"
ADMIN_TOKEN = "itest-platform-admin-token-0123456789abcdefABCDEF"
SIGNING_KEY = "itest-cursor-signing-key-0123456789abcdefghijklmnopqrstuvwxyzABCD"
RETENTION_DAYS = 90
KEY_CACHE_TTL = 30

IDENTITY = "identity.handlers.api"
AGENTS = "agents.handlers.api"
AUDIT = "audit.handlers.api"
DOCS = "docs.handlers.api"
AUTHORIZER = "identity.handlers.authorizer"
CONSUMER = "audit.handlers.on_domain_event"
ARCHIVE = "audit.handlers.job_archive"

ALLOWED_ORIGIN = "https://www.acme-dental.example"

# The sample event each route starts from (the same files serve `make invoke`).
ROUTE_EVENTS: dict[tuple[str, str], str] = {
    ("POST", "/v1/tenants"): "identity/api_create_tenant",
    ("GET", "/v1/tenant"): "identity/api_get_tenant",
    ("POST", "/v1/keys"): "identity/api_create_key",
    ("GET", "/v1/keys"): "identity/api_list_keys",
    ("DELETE", "/v1/keys/{keyId}"): "identity/api_revoke_key",
    ("POST", "/v1/publishable-keys"): "identity/api_create_publishable_key",
    ("GET", "/v1/publishable-keys"): "identity/api_list_publishable_keys",
    ("DELETE", "/v1/publishable-keys/{keyId}"): "identity/api_revoke_publishable_key",
    ("POST", "/v1/agents"): "agents/api_create_agent",
    ("GET", "/v1/agents"): "agents/api_list_agents",
    ("GET", "/v1/agents/{agentId}"): "agents/api_get_agent",
    ("PATCH", "/v1/agents/{agentId}"): "agents/api_update_agent",
    ("DELETE", "/v1/agents/{agentId}"): "agents/api_delete_agent",
    ("GET", "/v1/public/agents/{agentId}/config"): "agents/api_get_public_config",
    ("GET", "/v1/audit-log"): "audit/api_list_audit_log",
    ("GET", "/v1/openapi.json"): "docs/api_get_openapi",
    ("GET", "/v1/docs"): "docs/api_get_docs",
    ("GET", "/v1/health"): "docs/api_get_health",
    ("POST", "/v1/agents/{agentId}/documents"): "knowledge/api_create_document_text",
    ("GET", "/v1/agents/{agentId}/documents"): "knowledge/api_list_documents",
    ("GET", "/v1/agents/{agentId}/documents/{documentId}"): "knowledge/api_get_document",
    ("DELETE", "/v1/agents/{agentId}/documents/{documentId}"): "knowledge/api_delete_document",
    ("POST", "/v1/agents/{agentId}/documents/{documentId}/retry"): "knowledge/api_retry_document",
    (
        "POST",
        "/v1/agents/{agentId}/documents/{documentId}/upload-url",
    ): "knowledge/api_new_upload_url",
    ("GET", "/v1/agents/{agentId}/index"): "knowledge/api_get_index",
    ("POST", "/v1/agents/{agentId}/search"): "knowledge/api_search",
    ("POST", "/v1/public/agents/{agentId}/conversations"): (
        "conversations/api_start_widget_conversation"
    ),
    ("GET", "/v1/public/agents/{agentId}/conversations/{conversationId}"): (
        "conversations/api_get_widget_conversation"
    ),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/messages"): (
        "conversations/api_post_widget_message"
    ),
    (
        "POST",
        "/v1/public/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
    ): "conversations/api_post_widget_feedback",
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/lead"): (
        "conversations/api_post_widget_lead"
    ),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/handoff"): (
        "conversations/api_post_widget_handoff"
    ),
    ("POST", "/v1/agents/{agentId}/conversations"): "conversations/api_start_conversation",
    ("GET", "/v1/agents/{agentId}/conversations/{conversationId}"): (
        "conversations/api_get_conversation"
    ),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages"): (
        "conversations/api_post_message"
    ),
    (
        "POST",
        "/v1/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
    ): "conversations/api_post_feedback",
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/lead"): (
        "conversations/api_post_lead"
    ),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/handoff"): (
        "conversations/api_post_handoff"
    ),
    ("GET", "/v1/conversations"): "conversations/api_list_conversations",
    ("POST", "/v1/agents/{agentId}/identity-secret"): "conversations/api_rotate_identity_secret",
}
AUTHORIZER_EVENT = "identity/authorizer_secret_key"
KNOWLEDGE = "knowledge.handlers.api"
INGESTION = "knowledge.handlers.on_ingestion_message"


# ---------------------------------------------------------------------------- template


@cache
def template() -> dict[str, Any]:
    """template.yaml as data (cfn-lint's decoder, via tests.support.aws), read once."""
    return load_template(TEMPLATE_PATH)


def resource(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"][logical_id]
    return found


def sub(value: Any) -> str:
    """Resolve the only ``!Sub`` forms names in this template use: ``${Stage}`` and
    ``${AWS::AccountId}`` / ``${AWS::Region}``."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    names = {"Stage": STAGE, "AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION}

    def replace(match: re.Match[str]) -> str:
        return names[match.group(1)]

    return re.sub(r"\$\{([^}]+)\}", replace, text)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource, e.g. /v1/agents/{agentId}
    function: str  # logical id
    handler_module: str  # e.g. agents.handlers.api
    authorizer: str | None  # KeyAuthorizer | PublicKeyAuthorizer | None (Auth: NONE)

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


# The functions this suite covers (their every route has a sample event and a role row).
COVERED_FUNCTIONS = frozenset(
    {
        "IdentityApiFunction",
        "AgentsApiFunction",
        "AuditApiFunction",
        "DocsFunction",
        "KnowledgeApiFunction",
        "ConversationsApiFunction",
    }
)


def covered_routes() -> tuple[Route, ...]:
    return tuple(r for r in routes() if r.function in COVERED_FUNCTIONS)


@cache
def routes() -> tuple[Route, ...]:
    """Every API route of the template, as API Gateway would mount it."""
    default_auth = resource("Api")["Properties"]["Auth"]["DefaultAuthorizer"]
    found = []
    for logical_id, res in template()["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        module = props["Handler"].rsplit(".", 1)[0]
        for event in (props.get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            p = event["Properties"]
            auth = (p.get("Auth") or {}).get("Authorizer", default_auth)
            found.append(
                Route(
                    method=p["Method"].upper(),
                    path=p["Path"],
                    function=logical_id,
                    handler_module=module,
                    authorizer=None if auth == "NONE" else auth,
                )
            )
    return tuple(found)


def route_for(method: str, path: str) -> tuple[Route, dict[str, str]]:
    for route in routes():
        params = route.matches(method, path)
        if params is not None:
            return route, params
    raise LookupError(f"no route {method} {path} in template.yaml")


@cache
def aws_client(service: str) -> Any:
    """The harness's own clients (set-up and assertions), separate from the functions'."""
    return boto3.client(service, region_name=REGION)


def create_table(table_name: str) -> None:
    """The template's ``Table`` (keys, indexes, billing, stream, TTL from its properties)."""
    create_table_from_template(TEMPLATE_PATH, table_name=table_name, client=aws_client("dynamodb"))


# ---------------------------------------------------------------------------- the AWS world


@dataclass
class World:
    """Names and ARNs of what the package's moto holds, as the functions' environment sees them."""

    table_name: str
    bus_name: str
    audit_queue_url: str
    admin_secret_arn: str
    signing_secret_arn: str
    archive_bucket: str
    documents_bucket: str
    ingestion_queue_url: str

    def environment(self) -> dict[str, str]:
        return {
            "STAGE": STAGE,
            "TABLE_NAME": self.table_name,
            "EVENT_BUS_NAME": self.bus_name,
            "SIGNING_SECRET_ARN": self.signing_secret_arn,
            "ADMIN_SECRET_ARN": self.admin_secret_arn,
            "AUDIT_RETENTION_DAYS": str(RETENTION_DAYS),
            "ARCHIVE_BUCKET": self.archive_bucket,
            "KEY_CACHE_TTL": str(KEY_CACHE_TTL),
            "DOCUMENTS_BUCKET": self.documents_bucket,
            "INGESTION_QUEUE_URL": self.ingestion_queue_url,
            "INGESTION_MAX_RECEIVES": "3",
        }


def create_world() -> World:
    """Create the template's table, bus, audit rule and queue, secrets and archive bucket."""
    table_name = sub(resource("Table")["Properties"]["TableName"])
    create_table(table_name)

    sqs = aws_client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=sub(resource("AuditDeadLetterQueue")["Properties"]["QueueName"])
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    queue_props = resource("AuditQueue")["Properties"]
    queue_url = sqs.create_queue(
        QueueName=sub(queue_props["QueueName"]),
        Attributes={
            "VisibilityTimeout": str(queue_props["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                    "maxReceiveCount": queue_props["RedrivePolicy"]["maxReceiveCount"],
                }
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    events = aws_client("events")
    bus_name = sub(resource("EventBus")["Properties"]["Name"])
    events.create_event_bus(Name=bus_name)
    rule = resource("AuditRule")["Properties"]
    events.put_rule(
        Name="AuditRule", EventBusName=bus_name, EventPattern=json.dumps(rule["EventPattern"])
    )
    events.put_targets(
        Rule="AuditRule",
        EventBusName=bus_name,
        Targets=[{"Id": t["Id"], "Arn": queue_arn} for t in rule["Targets"]],
    )

    secrets = aws_client("secretsmanager")
    admin_arn = secrets.create_secret(
        Name=sub(resource("AdminSecret")["Properties"]["Name"]),
        SecretString=json.dumps({"token": ADMIN_TOKEN}),
    )["ARN"]
    signing_arn = secrets.create_secret(
        Name=sub(resource("SigningSecret")["Properties"]["Name"]),
        SecretString=json.dumps({"key": SIGNING_KEY}),
    )["ARN"]

    s3 = aws_client("s3")
    bucket_props = resource("ArchiveBucket")["Properties"]
    bucket = sub(bucket_props["BucketName"])
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration=bucket_props["VersioningConfiguration"]
    )
    documents = sub(resource("DocumentsBucket")["Properties"]["BucketName"])
    s3.create_bucket(Bucket=documents)
    ingestion_url = sqs.create_queue(
        QueueName=sub(resource("IngestionQueue")["Properties"]["QueueName"])
    )["QueueUrl"]
    return World(
        documents_bucket=documents,
        ingestion_queue_url=ingestion_url,
        table_name=table_name,
        bus_name=bus_name,
        audit_queue_url=queue_url,
        admin_secret_arn=admin_arn,
        signing_secret_arn=signing_arn,
        archive_bucket=bucket,
    )


# Items restored after every wipe: what module-scoped fixtures built (see ``keep_tenant``).
KEPT_ITEMS: dict[str, list[dict[str, Any]]] = {}


def keep_tenant(world: World, tenant_id: str) -> None:
    """Snapshot a tenant's items now; every later test starts with exactly this state."""
    ddb = aws_client("dynamodb")
    prefix = f"TENANT#{tenant_id}"
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=world.table_name):
        items += [i for i in page["Items"] if i["pk"]["S"].split("#")[:2] == prefix.split("#")]
    KEPT_ITEMS[tenant_id] = items


def forget_tenant(tenant_id: str) -> None:
    KEPT_ITEMS.pop(tenant_id, None)


def wipe(world: World) -> None:
    """After a test: a new empty table (plus KEPT_ITEMS) and an empty audit queue.

    Tests never share data anyway (each makes its own tenants). A new table keeps moto fast:
    its TransactWriteItems deep-copies every table, stream records included, for rollback,
    so the cost of creating a tenant would otherwise grow with every write of the session.
    """
    ddb = aws_client("dynamodb")
    ddb.delete_table(TableName=world.table_name)
    create_table(world.table_name)
    kept = [{"PutRequest": {"Item": item}} for items in KEPT_ITEMS.values() for item in items]
    for start in range(0, len(kept), 25):
        ddb.batch_write_item(RequestItems={world.table_name: kept[start : start + 25]})
    _RELAYED.clear()
    PublishedEvents(world.audit_queue_url).drain()  # PurgeQueue: once a minute only
    PublishedEvents(world.ingestion_queue_url).drain()


# Stream positions already relayed, per shard (a new table per test means new shards).
_RELAYED: dict[str, str] = {}


def stream_records(table_name: str) -> list[dict[str, Any]]:
    """New records of the table's stream since the last call, shaped as Lambda delivers them
    to a DynamoDB event source (the template's OutboxRelayFunction)."""
    ddb = aws_client("dynamodb")
    streams = aws_client("dynamodbstreams")
    stream_arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        key = f"{stream_arn}/{shard['ShardId']}"
        after = _RELAYED.get(key)
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard["ShardId"],
            **(
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                if after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            ),
        )["ShardIterator"]
        got = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        for raw in got:
            record = {**raw, "eventSourceARN": stream_arn, "dynamodb": dict(raw["dynamodb"])}
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if hasattr(created, "timestamp"):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            records.append(record)
        if got:
            _RELAYED[key] = got[-1]["dynamodb"]["SequenceNumber"]
    return records


def outbox_records(table_name: str) -> list[dict[str, Any]]:
    """The stream records the relay's FilterCriteria lets through: INSERTs of outbox items."""
    return [
        r
        for r in stream_records(table_name)
        if r["eventName"] == "INSERT"
        and r["dynamodb"].get("NewImage", {}).get("entity", {}).get("S") == "outbox"
    ]


def relay_outbox(table_name: str) -> dict[str, Any]:
    """What Lambda does with the table's stream: invoke the relay with the outbox records."""
    records = outbox_records(table_name)
    if not records:
        return {"batchItemFailures": []}
    return invoke("relay.handlers.on_table_stream", {"Records": records})


def take_messages(queue_url: str) -> list[dict[str, Any]]:
    """Receive (and delete) up to ten messages, as an event source mapping would."""
    sqs = aws_client("sqs")
    got: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got


def ingest_queued(world: World) -> Any:
    """Run the ingestion worker over what the ingestion queue holds (as its event source)."""
    got = take_messages(world.ingestion_queue_url)
    if not got:
        return {"batchItemFailures": []}
    return invoke(INGESTION, sqs_event(m["Body"] for m in got))


class PublishedEvents:
    """Domain events EventBridge delivered to the audit queue through the template's rule
    (after the relay moved them from the table's outbox)."""

    def __init__(self, queue_url: str, table_name: str | None = None) -> None:
        self.queue_url = queue_url
        self.table_name = table_name
        self.messages: list[dict[str, Any]] = []  # SQS messages, body = EventBridge envelope

    def drain(self) -> None:
        if self.table_name:
            relay_outbox(self.table_name)
        sqs = aws_client("sqs")
        while True:
            got = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
                ],
            )
            self.messages.extend(got)

    def messages_of(self, tenant_id: str) -> list[dict[str, Any]]:
        self.drain()
        return [
            m
            for m in self.messages
            if json.loads(m["Body"]).get("detail", {}).get("tenant_id") == tenant_id
        ]

    def of(self, tenant_id: str, detail_type: str | None = None) -> list[dict[str, Any]]:
        """EventBridge envelopes about ``tenant_id`` (optionally of one detail-type)."""
        envelopes = [json.loads(m["Body"]) for m in self.messages_of(tenant_id)]
        return [e for e in envelopes if detail_type in (None, e["detail-type"])]


# ---------------------------------------------------------------------------- invoking


@dataclass
class FakeLambdaContext:
    function_name: str = "agenthub-itest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:agenthub-itest"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/agenthub-itest"
    log_stream_name: str = "2025/11/26/[$LATEST]itest"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def module(name: str | ModuleType) -> ModuleType:
    return name if isinstance(name, ModuleType) else importlib.import_module(name)


def invoke(handler_module: str | ModuleType, event: Any) -> Any:
    """Call ``handler(event, context)`` of a function module, as Lambda would."""
    return module(handler_module).handler(event, FakeLambdaContext())


@dataclass(frozen=True)
class Principal:
    """A real key and the authorizer context the REAL authorizer produced for it."""

    tenant_id: str
    key_id: str
    secret: str
    key_type: str  # secret | publishable
    role: str | None
    context: dict[str, Any]
    agent_id: str | None = None
    origins: tuple[str, ...] = ()

    @property
    def authorization(self) -> str:
        return f"Bearer {self.secret}"


class Headers(dict[str, str]):
    """Response headers, case-insensitive on lookup."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return str(found)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None


@dataclass
class HttpResponse:
    status: int
    headers: Headers
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return self.json["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {self.body[:300]!r})"


def response_of(raw: Mapping[str, Any]) -> HttpResponse:
    headers = Headers()
    for name, values in (raw.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    for name, value in (raw.get("headers") or {}).items():
        headers[name] = value
    body = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return HttpResponse(status=int(raw["statusCode"]), headers=headers, body=body)


def _set_header(event: dict[str, Any], name: str, value: str | None) -> None:
    """Set (or with None remove) a request header in both of the REST event's header maps."""
    for key in [k for k in event["headers"] if k.lower() == name.lower()]:
        del event["headers"][key]
        event["multiValueHeaders"].pop(key, None)
    if value is not None:
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]


Caller = Principal | Mapping[str, Any] | None


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str | None] | None = None,
    query: Mapping[str, str] | None = None,
    caller: Caller = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """The route's sample event from events/, overridden for this request.

    ``caller``: a Principal (its real authorizer context and its key in Authorization), a
    mapping (an authorizer context forged on purpose) or None (no authorizer context at all).
    ``headers`` override the sample's; a None value removes a header.
    """
    route, params = route_for(method, path)
    event = load_event(ROUTE_EVENTS[(route.method, route.path)])
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["pathParameters"] = params or None
    event["queryStringParameters"] = dict(query) if query else None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["requestContext"]["requestTimeEpoch"] = int(time.time() * 1000)
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    elif method.upper() in ("POST", "PATCH", "PUT"):
        event["body"] = None
    if route.authorizer is not None:
        event["requestContext"].pop("authorizer", None)
        _set_header(event, "Authorization", None)
    if isinstance(caller, Principal):
        _set_header(event, "Authorization", caller.authorization)
        event["requestContext"]["authorizer"] = dict(caller.context)
    elif caller is not None:
        event["requestContext"]["authorizer"] = dict(caller)
    _set_header(event, "If-Match", None)  # only sent when a test says so
    for name, value in (headers or {}).items():
        _set_header(event, name, value)
    return event


def api(
    handler_module: str | ModuleType,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str | None] | None = None,
    query: Mapping[str, str] | None = None,
    caller: Caller = None,
    raw_body: str | None = None,
) -> HttpResponse:
    """Invoke an API function with the route's sample event (see ``api_event``)."""
    route, _ = route_for(method, path)
    name = module(handler_module).__name__
    assert name == route.handler_module, f"{method} {path} is served by {route.handler_module}"
    event = api_event(
        method, path, body, headers=headers, query=query, caller=caller, raw_body=raw_body
    )
    return response_of(invoke(handler_module, event))


def authorizer_event(
    authorization: str | None,
    method: str,
    path: str,
    *,
    origin: str | None = None,
) -> dict[str, Any]:
    route, params = route_for(method, path)
    event = load_event(AUTHORIZER_EVENT)
    arn_base = event["methodArn"].split("/", 2)[:2]
    event["methodArn"] = "/".join(arn_base) + f"/{route.method}{path}"
    event["resource"] = event["requestContext"]["resourcePath"] = route.path
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["httpMethod"] = event["requestContext"]["httpMethod"] = route.method
    event["pathParameters"] = params
    _set_header(event, "Authorization", authorization)
    _set_header(event, "Origin", origin)
    return event


def run_authorizer(
    authorization: str | None, method: str, path: str, *, origin: str | None = None
) -> dict[str, Any]:
    """The real authorizer's answer (an IAM policy); raises as the authorizer does."""
    result: dict[str, Any] = invoke(
        AUTHORIZER, authorizer_event(authorization, method, path, origin=origin)
    )
    return result


def policy_allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer policy for one method ARN (explicit Deny wins)."""
    allowed = False
    for statement in policy["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def context_of(policy: Mapping[str, Any]) -> dict[str, Any]:
    """What API Gateway hands the integration as ``requestContext.authorizer``."""
    return {**policy["context"], "principalId": policy["principalId"], "integrationLatency": 3}


def _gateway_error(kind: str, status: int) -> HttpResponse:
    responses = resource("Api")["Properties"]["GatewayResponses"]
    body = responses[kind]["ResponseTemplates"]["application/json"]
    return HttpResponse(
        status=status, headers=Headers({"Content-Type": "application/json"}), body=body
    )


def gateway(
    method: str,
    path: str,
    body: Any = None,
    *,
    key: Principal | str | None = None,
    origin: str | None = None,
    headers: Mapping[str, str | None] | None = None,
    query: Mapping[str, str] | None = None,
    raw_body: str | None = None,
) -> HttpResponse:
    """API Gateway in miniature: the route's authorizer (its identity sources, the real
    authorizer function and its policy), then the route's handler with the verdict's context.
    ``key`` is a Principal or a raw Authorization header value."""
    route, _ = route_for(method, path)
    authorization = key.authorization if isinstance(key, Principal) else key
    request_headers: dict[str, str | None] = {"Authorization": authorization, "Origin": origin}
    request_headers.update(headers or {})
    context: dict[str, Any] | None = None
    if route.authorizer is not None:
        identity = resource("Api")["Properties"]["Auth"]["Authorizers"][route.authorizer]
        sources = identity["Identity"]["Headers"]
        if any(not request_headers.get(name) for name in sources):
            return _gateway_error("UNAUTHORIZED", 401)  # identity source missing: no call
        event = authorizer_event(authorization, method, path, origin=origin)
        try:
            policy = invoke(AUTHORIZER, event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return _gateway_error("UNAUTHORIZED", 401)
            return _gateway_error("DEFAULT_5XX", 500)
        if not policy_allows(policy, event["methodArn"]):
            return _gateway_error("ACCESS_DENIED", 403)
        context = context_of(policy)
    return api(
        route.handler_module,
        method,
        path,
        body,
        headers=request_headers,
        query=query,
        caller=context,
        raw_body=raw_body,
    )


# ---------------------------------------------------------------------------- tenants


def concrete_origin(pattern: str) -> str:
    return pattern.replace("://*.", "://widget.")


@dataclass
class Tenant:
    """A tenant created through POST /v1/tenants, and helpers acting as its owner."""

    id: str
    name: str
    owner: Principal
    created: dict[str, Any]

    def key(self, role: str, *, by: Principal | None = None, name: str | None = None) -> Principal:
        """A new secret key of ``role`` (created through the API), authorized for real."""
        response = api(
            IDENTITY,
            "POST",
            "/v1/keys",
            {"name": name or f"{role} key", "role": role},
            caller=by or self.owner,
        )
        assert response.status == 201, response
        return authorize(response.json["secret"])

    def agent(self, *, by: Principal | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": "Front desk", **fields}
        response = api(AGENTS, "POST", "/v1/agents", body, caller=by or self.owner)
        assert response.status == 201, response
        agent: dict[str, Any] = response.json
        return agent

    def widget_key(
        self,
        agent_id: str,
        origins: Iterable[str] = (ALLOWED_ORIGIN,),
        *,
        by: Principal | None = None,
    ) -> Principal:
        """A publishable key for ``agent_id``, authorized for real from its first origin."""
        origins = list(origins)
        response = api(
            IDENTITY,
            "POST",
            "/v1/publishable-keys",
            {"name": "widget", "agent_id": agent_id, "allowed_origins": origins},
            caller=by or self.owner,
        )
        assert response.status == 201, response
        return authorize(
            response.json["secret"], agent_id=agent_id, origin=concrete_origin(origins[0])
        )


def authorize(secret: str, *, agent_id: str | None = None, origin: str | None = None) -> Principal:
    """Present ``secret`` to the real authorizer (secret keys on GET /v1/tenant, publishable
    keys on their agent's public config from ``origin``) and keep its verdict."""
    path = f"/v1/public/agents/{agent_id}/config" if secret.startswith("pk_") else "/v1/tenant"
    event = authorizer_event(f"Bearer {secret}", "GET", path, origin=origin)
    policy = invoke(AUTHORIZER, event)
    assert policy_allows(policy, event["methodArn"]), policy
    context = context_of(policy)
    return Principal(
        tenant_id=context["tenantId"],
        key_id=context["keyId"],
        secret=secret,
        key_type=context["keyType"],
        role=context["role"] or None,
        context=context,
        agent_id=context["agentId"] or None,
        origins=tuple(o for o in context["allowedOrigins"].split(" ") if o),
    )


def create_tenant(name: str = "Acme Dental") -> Tenant:
    response = api(
        IDENTITY,
        "POST",
        "/v1/tenants",
        {"name": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status == 201, response
    data = response.json
    owner = authorize(data["key"]["secret"])
    return Tenant(id=data["tenant"]["id"], name=name, owner=owner, created=data)


# ---------------------------------------------------------------------------- audit events


def sqs_event(bodies: Iterable[str], *, message_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """An SQS event for the audit consumer, its records shaped like the sample's."""
    template_record = load_event("audit/sqs_domain_event")["Records"][0]
    ids = list(message_ids) if message_ids is not None else None
    records = []
    for n, body in enumerate(bodies):
        record = json.loads(json.dumps(template_record))
        record["body"] = body
        record["messageId"] = ids[n] if ids else str(uuid.uuid4())
        records.append(record)
    return {"Records": records}


def sqs_event_from_messages(messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What the audit function's event source mapping hands it for these queue messages."""
    messages = list(messages)
    return sqs_event([m["Body"] for m in messages], message_ids=[m["MessageId"] for m in messages])


def eventbridge_envelope(
    detail_type: str,
    *,
    tenant_id: str,
    occurred_at: str,
    source: str = "agenthub.agents",
    subject: str = "agent/ag_0000000000000000",
    data: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An EventBridge envelope like the sample's, with a detail built for this test."""
    sample = json.loads(load_event("audit/sqs_domain_event")["Records"][0]["body"])
    event_id = event_id or uuid.uuid4().hex
    sample["id"] = str(uuid.uuid4())
    sample["detail-type"] = detail_type
    sample["source"] = source
    sample["time"] = occurred_at[:19] + "Z"
    sample["detail"].update(
        tenant_id=tenant_id,
        type=detail_type,
        occurred_at=occurred_at,
        subject=subject,
        data=dict(data or {}),
        event_id=event_id,
    )
    return sample


# ---------------------------------------------------------------------------- AWS calls


@dataclass
class CallLog:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def of(self, service: str) -> list[str]:
        return [op for svc, op in self.calls if svc == service]

    def clear(self) -> None:
        self.calls.clear()


def counting(original: Callable[..., Any], log: CallLog) -> Callable[..., Any]:
    """Wrap ``BaseClient._make_api_call``: every boto3 and pynamodb request passes there.
    Only this thread's calls count: a local runtime started by another test tier in the same
    session polls its queues and streams from threads of this process."""
    import threading

    mine = threading.get_ident()

    def wrapper(client: Any, operation_name: str, api_params: Any) -> Any:
        if threading.get_ident() == mine:
            log.calls.append((client.meta.service_model.service_name, operation_name))
        return original(client, operation_name, api_params)

    return wrapper
