"""What the benchmarks invoke: one fixed tenant, its keys and agent, the events for each route,
and a tiny in-memory DynamoDB that answers the stubbed calls (see aws_stub)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

TENANT = "0123456789abcdef"
OWNER_KEY_ID = "aaaaaaaaaaaa"
PUB_KEY_ID = "bbbbbbbbbbbb"
AGENT_ID = "ag_0123456789abcdef"
ORIGIN = "https://shop.example.com"
OWNER_KEY = f"sk_{TENANT}{OWNER_KEY_ID}" + "S" * 32
PUB_KEY = f"pk_{TENANT}{PUB_KEY_ID}" + "P" * 32
SIGNING = {"key": "k" * 48}
ADMIN = {"token": "admin-token"}

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TABLE_NAME": "agenthub-bench",
    "EVENT_BUS_NAME": "agenthub-bench",
    "SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    "ADMIN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin",
    "AUDIT_RETENTION_DAYS": "90",
    "ARCHIVE_BUCKET": "agenthub-archive-bench",
    "KEY_CACHE_TTL": "30",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "AgentHub",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "STAGE": "bench",
    "DOCUMENTS_BUCKET": "agenthub-documents-bench",
    "INGESTION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ingestion",
    "INGESTION_MAX_RECEIVES": "3",
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key_item(key_id: str, key: str, key_type: str, **extra: Any) -> dict[str, Any]:
    item = {
        "pk": _s(f"TENANT#{TENANT}"),
        "sk": _s(f"KEY#{key_id}"),
        "entity": _s("api_key"),
        "version": {"N": "1"},
        "tenant_id": _s(TENANT),
        "key_id": _s(key_id),
        "key_type": _s(key_type),
        "key_hash": _s(hashlib.sha256(key.encode()).hexdigest()),
        "name": _s("bench"),
        "last4": _s(key[-4:]),
        "created_at": _s("2026-01-01T00:00:00.000000Z"),
        "last_used_at": _s("2999-01-01T00:00:00.000000Z"),  # never stale: no write per call
    }
    item.update(extra)
    return item


AGENT_ITEM = {
    "pk": _s(f"TENANT#{TENANT}"),
    "sk": _s(f"AGENT#{AGENT_ID}"),
    "entity": _s("agent"),
    "version": {"N": "3"},
    "tenant_id": _s(TENANT),
    "agent_id": _s(AGENT_ID),
    "name": _s("Support"),
    "description": _s(""),
    "instructions": _s("Answer from the documents. " * 20),
    "model": _s("extractive"),
    "temperature": {"N": "0.2"},
    "greeting": _s("Hi!"),
    "suggested_questions": {"L": [_s("What are your hours?"), _s("Do you ship abroad?")]},
    "theme": _s(json.dumps({"primary_color": "#2563eb", "position": "bottom-right"})),
    "allowed_origins": {"L": [_s(ORIGIN)]},
    "enabled_tools": {"L": [_s("knowledge")]},
    "created_at": _s("2026-01-01T00:00:00.000000Z"),
    "updated_at": _s("2026-01-02T00:00:00.000000Z"),
}

AUDIT_ITEMS = [
    {
        "pk": _s(f"TENANT#{TENANT}#AUDIT"),
        "sk": _s(f"2026-01-0{i}T00:00:00.000000Z#e{i}"),
        "entity": _s("audit"),
        "version": {"N": "1"},
        "tenant_id": _s(TENANT),
        "event_id": _s(f"e{i}"),
        "type": _s("AgentUpdated"),
        "source": _s("agenthub.agents"),
        "occurred_at": _s(f"2026-01-0{i}T00:00:00.000000Z"),
        "actor": _s(json.dumps({"kind": "api_key", "key_id": OWNER_KEY_ID})),
        "subject": _s(f"agent/{AGENT_ID}"),
        "data": _s("{}"),
    }
    for i in range(1, 10)
]


TENANT_ITEM = {
    "pk": _s(f"TENANT#{TENANT}"),
    "sk": _s("TENANT"),
    "entity": _s("tenant"),
    "version": {"N": "1"},
    "tenant_id": _s(TENANT),
    "name": _s("Bench Co"),
    "plan": _s("free"),
    "created_at": _s("2026-01-01T00:00:00.000000Z"),
}


def items() -> list[dict[str, Any]]:
    return [
        TENANT_ITEM,
        _key_item(OWNER_KEY_ID, OWNER_KEY, "secret", role=_s("owner")),
        _key_item(
            PUB_KEY_ID,
            PUB_KEY,
            "publishable",
            agent_id=_s(AGENT_ID),
            allowed_origins={"L": [_s(ORIGIN)]},
        ),
        AGENT_ITEM,
        *AUDIT_ITEMS,
    ]


@dataclass
class FakeTable:
    """Enough of DynamoDB's wire protocol for the routes benchmarked."""

    store: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for item in items():
            self.store[(item["pk"]["S"], item["sk"]["S"])] = item

    def answer(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        name = operation.split(".", 1)[1]
        if name == "GetItem":
            key = payload["Key"]
            found = self.store.get((key["pk"]["S"], key["sk"]["S"]))
            return {"Item": found} if found else {}
        if name == "Query":
            values = [v["S"] for v in payload.get("ExpressionAttributeValues", {}).values()]
            pk = values[0]
            prefix = values[1] if len(values) > 1 else ""
            rows = [
                i for (p, s), i in sorted(self.store.items()) if p == pk and s.startswith(prefix)
            ]
            if payload.get("ScanIndexForward") is False:
                rows.reverse()
            limit = payload.get("Limit")
            page = rows[:limit] if limit else rows
            return {"Items": page, "Count": len(page), "ScannedCount": len(page)}
        if name == "UpdateItem":
            key = payload["Key"]
            return {"Attributes": self.store.get((key["pk"]["S"], key["sk"]["S"]), {})}
        return {}


def aws_answers() -> dict[str, Any]:
    table = FakeTable()
    secrets = {ENV["SIGNING_SECRET_ARN"]: SIGNING, ENV["ADMIN_SECRET_ARN"]: ADMIN}

    def secret(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "ARN": payload["SecretId"],
            "SecretString": json.dumps(secrets[payload["SecretId"]]),
        }

    def put_events(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        entries = payload.get("Entries", [])
        return {
            "FailedEntryCount": 0,
            "Entries": [{"EventId": str(i)} for i in range(len(entries))],
        }

    answers: dict[str, Any] = {
        f"DynamoDB.{op}": table.answer
        for op in ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
    }
    answers["SecretsManager.GetSecretValue"] = secret
    answers["Events.PutEvents"] = put_events
    answers["HTTP.PUT"] = lambda _op, _payload: {}  # S3 PutObject: the answer is in headers
    answers["SQS.SendMessage"] = lambda _op, _payload: {"MessageId": "bench"}
    return answers


def api_event(
    method: str,
    resource: str,
    path_params: dict[str, str] | None = None,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    context: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST (payload 1.0) proxy event as API Gateway sends it."""
    path = resource
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", value)
    all_headers = {"Host": "api.example.com", "User-Agent": "bench", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params,
        "stageVariables": None,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/bench{path}",
            "stage": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": context or {},
        },
    }


OWNER = {
    "tenantId": TENANT,
    "keyId": OWNER_KEY_ID,
    "keyType": "secret",
    "role": "owner",
    "agentId": "",
    "allowedOrigins": "",
    "principalId": f"{TENANT}/{OWNER_KEY_ID}",
}
PUBLIC = {
    "tenantId": TENANT,
    "keyId": PUB_KEY_ID,
    "keyType": "publishable",
    "role": "",
    "agentId": AGENT_ID,
    "allowedOrigins": ORIGIN,
    "principalId": f"{TENANT}/{PUB_KEY_ID}",
}
AGENT = {"agentId": AGENT_ID}


@dataclass(frozen=True)
class Route:
    function: str  # template logical id
    module: str
    name: str
    event: dict[str, Any]


def routes() -> list[Route]:
    """Every API route with a representative request (reads and writes)."""
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/bench"
    public_path = f"/v1/public/agents/{AGENT_ID}/config"
    return [
        Route(
            "AuthorizerFunction",
            "identity.handlers.authorizer",
            "authorize sk_",
            {
                "type": "REQUEST",
                "methodArn": f"{arn}/GET/v1/agents",
                "headers": {"Authorization": f"Bearer {OWNER_KEY}"},
            },
        ),
        Route(
            "AuthorizerFunction",
            "identity.handlers.authorizer",
            "authorize pk_",
            {
                "type": "REQUEST",
                "methodArn": f"{arn}/GET{public_path}",
                "headers": {"Authorization": f"Bearer {PUB_KEY}", "Origin": ORIGIN},
            },
        ),
        Route(
            "IdentityApiFunction",
            "identity.handlers.api",
            "GET /v1/tenant",
            api_event("GET", "/v1/tenant", context=OWNER),
        ),
        Route(
            "IdentityApiFunction",
            "identity.handlers.api",
            "POST /v1/tenants",
            api_event(
                "POST",
                "/v1/tenants",
                body={"name": "Bench"},
                headers={"Authorization": "Bearer admin-token"},
            ),
        ),
        Route(
            "IdentityApiFunction",
            "identity.handlers.api",
            "GET /v1/keys",
            api_event("GET", "/v1/keys", context=OWNER),
        ),
        Route(
            "IdentityApiFunction",
            "identity.handlers.api",
            "POST /v1/keys",
            api_event("POST", "/v1/keys", body={"name": "x", "role": "member"}, context=OWNER),
        ),
        Route(
            "AgentsApiFunction",
            "agents.handlers.api",
            "GET /v1/agents/{agentId}",
            api_event("GET", "/v1/agents/{agentId}", AGENT, context=OWNER),
        ),
        Route(
            "AgentsApiFunction",
            "agents.handlers.api",
            "GET /v1/agents",
            api_event("GET", "/v1/agents", context=OWNER, query={"limit": "20"}),
        ),
        Route(
            "AgentsApiFunction",
            "agents.handlers.api",
            "POST /v1/agents",
            api_event("POST", "/v1/agents", body={"name": "New"}, context=OWNER),
        ),
        Route(
            "AgentsApiFunction",
            "agents.handlers.api",
            "PATCH /v1/agents/{agentId}",
            api_event(
                "PATCH",
                "/v1/agents/{agentId}",
                AGENT,
                body={"greeting": "Hello", "version": 3},
                context=OWNER,
            ),
        ),
        Route(
            "AgentsApiFunction",
            "agents.handlers.api",
            "GET /v1/public/agents/{agentId}/config",
            api_event(
                "GET",
                "/v1/public/agents/{agentId}/config",
                AGENT,
                headers={"Origin": ORIGIN},
                context=PUBLIC,
            ),
        ),
        Route(
            "AuditApiFunction",
            "audit.handlers.api",
            "GET /v1/audit-log",
            api_event("GET", "/v1/audit-log", context=OWNER, query={"limit": "5"}),
        ),
        Route(
            "DocsFunction",
            "docs.handlers.api",
            "GET /v1/openapi.json",
            api_event("GET", "/v1/openapi.json"),
        ),
        Route(
            "IngestionFunction",
            "knowledge.handlers.on_ingestion_message",
            "SQS reindex (empty agent)",
            {
                "Records": [
                    {
                        "messageId": "bench-1",
                        "receiptHandle": "bench",
                        "body": json.dumps(
                            {"action": "reindex", "tenant_id": TENANT, "agent_id": AGENT_ID}
                        ),
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingestion",
                        "awsRegion": "us-east-1",
                    }
                ]
            },
        ),
    ]
