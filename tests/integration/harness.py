"""The integration harness: the template's stack in moto, real events, real handlers.

Nothing here restates template.yaml. The local runtime (infra.local) is the one reader of it:
its loader gives the functions, routes and parameters, its provisioner creates every resource
of the template in this process's moto (``mock_aws``), the functions' environment comes from
their template variables, and its API Gateway emulation builds the events and, in
``gateway()``, runs the route's authorizer and function in this process. A drift between
template and code therefore fails a test here instead of surprising someone after a deploy.

``api()`` sends a request straight to a route's function, as API Gateway would after its
authorizer, with the authorizer context a test chose: a real one (a ``Principal``) or a forged
one.
"""

from __future__ import annotations

import base64
import gzip
import importlib
import json
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.parse import urlencode

import boto3
from requests.structures import CaseInsensitiveDict

from infra.local import REGION
from infra.local.authorizers import authorizer_event as _authorizer_event
from infra.local.authorizers import method_arn, policy_allows, request_context
from infra.local.gateway import ApiGateway, Prepared
from infra.local.inprocess import InProcessFunctions, shared_environment
from infra.local.resources import Provisioner
from infra.local.server import HttpRequest
from infra.local.sqs import sqs_record
from infra.local.streams import stream_record
from infra.local.template import TemplateModel, load_template
from tests.support.events import load_event

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

ADMIN_TOKEN = "itest-platform-admin-token-0123456789abcdefABCDEF"
ALLOWED_ORIGIN = "https://www.acme-dental.example"

IDENTITY = "identity.handlers.api"
AGENTS = "agents.handlers.api"
AUDIT = "audit.handlers.api"
DOCS = "docs.handlers.api"
KNOWLEDGE = "knowledge.handlers.api"
AUTHORIZER = "identity.handlers.authorizer"
CONSUMER = "audit.handlers.on_domain_event"
ARCHIVE = "audit.handlers.job_archive"
INGESTION = "knowledge.handlers.on_ingestion_message"
RELAY = "relay.handlers.on_table_stream"
AGENT_CLEANUP = "agents.handlers.on_agent_deleted"
DOCUMENT_SWEEP = "knowledge.handlers.job_sweep_stuck"
SCHEDULING = "scheduling.handlers.api"

# The functions this suite covers (their every route has a sample event and a role row).
COVERED_FUNCTIONS = frozenset(
    {
        "IdentityApiFunction",
        "AgentsApiFunction",
        "AuditApiFunction",
        "DocsFunction",
        "KnowledgeApiFunction",
        "ConversationsApiFunction",
        "SchedulingApiFunction",
        "BillingApiFunction",
        "AnalyticsApiFunction",
    }
)


@cache
def template() -> TemplateModel:
    return load_template(TEMPLATE_PATH)


RETENTION_DAYS = int(template().parameters["AuditRetentionDays"])
KEY_CACHE_TTL = int(template().parameters["KeyCacheTtl"])
ARN_BASE = method_arn(template().api.api.stage_name if template().api else "", "", "")[:-1]


# ---------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource, e.g. /v1/agents/{agentId}
    function: str  # logical id
    handler_module: str  # e.g. agents.handlers.api
    authorizer: str | None  # KeyAuthorizer | PublicKeyAuthorizer | None (Auth: NONE)


def _route(found: Any, method: str) -> Route:
    module = template().functions[found.function_name].handler.rsplit(".", 1)[0]
    return Route(method, found.path, found.function_name, module, found.authorizer_name)


@cache
def routes() -> tuple[Route, ...]:
    """Every API route of the template, as API Gateway mounts it."""
    return tuple(
        _route(found, method)
        for (_, method), found in api_gateway().routes.items()
        if method != "OPTIONS"
    )


def covered_routes() -> tuple[Route, ...]:
    return tuple(r for r in routes() if r.function in COVERED_FUNCTIONS)


def route_for(method: str, path: str) -> tuple[Route, dict[str, str]]:
    matched = api_gateway().match(method.upper(), path)
    if matched is None:
        raise LookupError(f"no route {method} {path} in template.yaml")
    found, _, params = matched
    return _route(found, method.upper()), params


@cache
def aws_client(service: str) -> Any:
    """The harness's own clients (set-up and assertions), separate from the functions'."""
    return boto3.client(service, region_name=REGION)


# ---------------------------------------------------------------------------- the AWS world


@dataclass
class World:
    """The template's stack in the package's moto, and the functions' environment."""

    provisioner: Provisioner
    environment: dict[str, str]
    functions: InProcessFunctions

    def ref(self, logical_id: str) -> Any:
        return self.provisioner.state.refs[logical_id]

    @property
    def table_name(self) -> str:
        return str(self.ref("Table"))

    @property
    def bus_name(self) -> str:
        return str(self.ref("EventBus"))

    @property
    def audit_queue_url(self) -> str:
        return str(self.ref("AuditQueue"))

    @property
    def ingestion_queue_url(self) -> str:
        return str(self.ref("IngestionQueue"))

    @property
    def archive_bucket(self) -> str:
        return str(self.ref("ArchiveBucket"))

    @property
    def documents_bucket(self) -> str:
        return str(self.ref("DocumentsBucket"))


_worlds: list[World] = []


def world() -> World:
    assert _worlds, "the `aws` fixture creates the world"
    return _worlds[-1]


def create_world() -> World:
    """Every resource of the template, created in this process's moto by the local runtime's
    provisioner; the platform admin secret holds ADMIN_TOKEN."""
    provisioner = Provisioner(template(), None)
    stack = provisioner.create_all()
    aws_client("secretsmanager").put_secret_value(
        SecretId=stack.refs["AdminSecret"], SecretString=json.dumps({"token": ADMIN_TOKEN})
    )
    created = World(
        provisioner, shared_environment(template(), stack), InProcessFunctions(template(), stack)
    )
    _worlds.append(created)
    return created


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
    """After a test: a new empty table (plus KEPT_ITEMS) and empty queues.

    Tests never share data anyway (each makes its own tenants). A new table keeps moto fast:
    its TransactWriteItems deep-copies every table, stream records included, for rollback,
    so the cost of creating a tenant would otherwise grow with every write of the session.
    """
    ddb = aws_client("dynamodb")
    ddb.delete_table(TableName=world.table_name)
    world.provisioner.create("Table")
    kept = [{"PutRequest": {"Item": item}} for items in KEPT_ITEMS.values() for item in items]
    for start in range(0, len(kept), 25):
        ddb.batch_write_item(RequestItems={world.table_name: kept[start : start + 25]})
    _RELAYED.clear()
    PublishedEvents(world.audit_queue_url).drain()  # PurgeQueue: once a minute only
    PublishedEvents(world.ingestion_queue_url).drain()
    for queue in ("BillingEventsQueue", "AnalyticsEventsQueue"):
        if queue in world.provisioner.state.refs:
            PublishedEvents(str(world.ref(queue))).drain()


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
        records += [stream_record(raw, stream_arn) for raw in got]
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
    result: dict[str, Any] = invoke(RELAY, {"Records": records})
    return result


def take_messages(queue_url: str) -> list[dict[str, Any]]:
    """Receive (and delete) up to ten messages, as an event source mapping would."""
    sqs = aws_client("sqs")
    got: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got


def ingest_queued(world: World, batches: int = 20) -> Any:
    """Run the ingestion worker over what the ingestion queue holds (as its event source),
    batch after batch (the index builds documents schedule come after them) until it is
    empty; the failures of every batch."""
    failures: list[Any] = []
    for _ in range(batches):
        got = take_messages(world.ingestion_queue_url)
        if not got and _wait_for_delayed(world.ingestion_queue_url):
            got = take_messages(world.ingestion_queue_url)
        if not got:
            break
        failures += invoke(INGESTION, sqs_event_from_messages(got))["batchItemFailures"]
    return {"batchItemFailures": failures}


def _wait_for_delayed(queue_url: str, timeout: float = 90.0) -> bool:
    """Wait until the queue's delayed messages are visible (a build scheduled after a slow
    one waits as long as that took: about a second on a loaded machine); False if none."""
    import time

    sqs = aws_client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]):
            return True
        if not int(attributes["ApproximateNumberOfMessagesDelayed"]):
            return False
        time.sleep(0.2)
    return False


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


def module(name: str | ModuleType) -> ModuleType:
    return name if isinstance(name, ModuleType) else importlib.import_module(name)


@cache
def _function_of(handler_module: str) -> str:
    return next(
        name
        for name, spec in template().functions.items()
        if spec.handler.rsplit(".", 1)[0] == handler_module
    )


def invoke(handler_module: str | ModuleType, event: Any) -> Any:
    """Call ``handler(event, context)`` of a function module, as Lambda would (an exception
    is raised as the function raised it)."""
    found = module(handler_module)
    return found.handler(event, world().functions.context(_function_of(found.__name__)))


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


@dataclass
class HttpResponse:
    status: int
    headers: CaseInsensitiveDict[str]
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
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, values in (raw.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    for name, value in (raw.get("headers") or {}).items():
        headers[name] = value
    body = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return HttpResponse(status=int(raw["statusCode"]), headers=headers, body=body)


Caller = Principal | Mapping[str, Any] | None


@cache
def api_gateway() -> ApiGateway:
    """The local runtime's API Gateway over the template, its functions run in this process
    (no authorizer cache: a revoked key is refused on the next request)."""
    model = template()
    assert model.api is not None, "the template has no REST API"

    async def run(function: str, event: Any) -> Any:
        return await world().functions.invoke(function, event)

    return ApiGateway(model.api, run, functions=set(model.functions), authorizer_ttl=0)


def request(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str | None] | None = None,
    query: Mapping[str, str] | None = None,
    raw_body: str | None = None,
    client_address: str = "127.0.0.1",
) -> HttpRequest:
    """An HTTP request as a client sends it: a JSON body with its Content-Type; ``headers``
    add to (or with a None value remove) those."""
    data = raw_body.encode() if raw_body is not None else b""
    if body is not None and raw_body is None:
        data = json.dumps(body).encode()
    sent: dict[str, str] = {"Content-Type": "application/json"} if data else {}
    for name, value in (headers or {}).items():
        for known in [k for k in sent if k.lower() == name.lower()]:
            del sent[known]
        if value is not None:
            sent[name] = value
    query_string = urlencode(query or {})
    target = path + (f"?{query_string}" if query_string else "")
    return HttpRequest(
        method.upper(),
        target,
        path,
        query_string,
        "HTTP/1.1",
        [*sent.items()],
        data,
        remote_addr=client_address,
    )


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
    """The proxy event API Gateway sends the route's function for this request, after its
    authorizer produced the context of ``caller``: a Principal (its real authorizer context,
    its key in Authorization), a mapping (a context forged on purpose) or None (none)."""
    sent = dict(headers or {})
    if isinstance(caller, Principal):
        sent = {"Authorization": caller.authorization, **sent}
    prepared = api_gateway().prepare(
        request(method, path, body, headers=sent, query=query, raw_body=raw_body)
    )
    assert isinstance(prepared, Prepared), f"{method} {path}: the gateway answered {prepared}"
    event = prepared.event
    context = caller.context if isinstance(caller, Principal) else caller
    if context is not None:
        event["requestContext"]["authorizer"] = dict(context)
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
    """Invoke an API function with the event of this request (see ``api_event``)."""
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
    """The event API Gateway sends the route's Lambda authorizer for this request."""
    headers = {"Authorization": authorization, "Origin": origin}
    prepared = api_gateway().prepare(request(method, path, headers=headers))
    assert isinstance(prepared, Prepared), f"{method} {path}: the gateway answered {prepared}"
    authorizer = prepared.route.authorizer_object
    assert authorizer is not None, f"{method} {path} has no authorizer"
    arn = method_arn(prepared.event["requestContext"]["stage"], method.upper(), path)
    return _authorizer_event(authorizer, prepared.event, [], arn)


def run_authorizer(
    authorization: str | None, method: str, path: str, *, origin: str | None = None
) -> dict[str, Any]:
    """The real authorizer's answer (an IAM policy); raises as the authorizer does."""
    result: dict[str, Any] = invoke(
        AUTHORIZER, authorizer_event(authorization, method, path, origin=origin)
    )
    return result


def context_of(policy: dict[str, Any]) -> dict[str, Any]:
    """What API Gateway hands the integration as ``requestContext.authorizer``."""
    return request_context(policy, 3)


def _complete[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (its functions run in this thread) to its end, in
    this thread: the calls it makes are this test's, whatever event loop the thread has."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError("the in-process gateway waited for I/O")


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
    client_address: str = "127.0.0.1",
) -> HttpResponse:
    """The request through the local runtime's API Gateway: the route's authorizer (its
    identity sources, the real authorizer function and its policy), then the route's
    function with the verdict's context. ``key`` is a Principal or a raw Authorization value."""
    authorization = key.authorization if isinstance(key, Principal) else key
    sent: dict[str, str | None] = {"Authorization": authorization, "Origin": origin}
    sent.update(headers or {})
    answer = _complete(
        api_gateway().handle(
            request(
                method,
                path,
                body,
                headers=sent,
                query=query,
                raw_body=raw_body,
                client_address=client_address,
            )
        )
    )
    out: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in answer.headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    data = answer.body
    if out.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return HttpResponse(status=answer.status, headers=out, body=data.decode())


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


# ---------------------------------------------------------------------------- queue events


def sqs_event(bodies: Iterable[str], *, message_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """An SQS event of these message bodies, each received once, as an event source mapping
    delivers it."""
    ids = list(message_ids) if message_ids is not None else None
    messages = [
        {
            "MessageId": ids[n] if ids else str(uuid.uuid4()),
            "ReceiptHandle": uuid.uuid4().hex,
            "Body": body,
            "MD5OfBody": "",
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for n, body in enumerate(bodies)
    ]
    return sqs_event_from_messages(messages)


def sqs_event_from_messages(messages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What an event source mapping hands its function for these queue messages."""
    arn = world().provisioner.state.attrs["AuditQueue"]["Arn"]
    return {"Records": [sqs_record(dict(message), arn) for message in messages]}


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
    mine = threading.get_ident()

    def wrapper(client: Any, operation_name: str, api_params: Any) -> Any:
        if threading.get_ident() == mine:
            log.calls.append((client.meta.service_model.service_name, operation_name))
        return original(client, operation_name, api_params)

    return wrapper
