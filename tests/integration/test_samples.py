"""The sample events in events/ are the ones `make invoke` and `sam local invoke -e` use: every
route has one, they are shaped as API Gateway sends them, and they work as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration import harness as h
from tests.support.events import EVENTS_DIR, load_event

FILE_NAME = re.compile(r"^(api|authorizer|sqs|schedule)_[a-z0-9]+(_[a-z0-9]+)*\.json$")
API_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
CONTEXT_KEYS = {"tenantId", "keyId", "keyType", "role", "agentId", "allowedOrigins", "principalId"}
ALL_FILES = sorted(EVENTS_DIR.rglob("*.json"))
API_FILES = [p for p in ALL_FILES if p.name.startswith("api_")]


def _name(path: Path) -> str:
    return str(path.relative_to(EVENTS_DIR).with_suffix(""))


@pytest.mark.parametrize("path", ALL_FILES, ids=_name)
def test_sample_files_are_named_by_domain_source_and_action(path: Path):
    domain = path.parent.name
    assert (h.ROOT / "functions" / domain).is_dir(), f"{domain} is not a domain"
    assert FILE_NAME.match(path.name), path.name
    json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", API_FILES, ids=_name)
def test_api_samples_are_rest_payload_1_0_proxy_events(path: Path):
    event = load_event(_name(path))
    route, params = h.route_for(event["httpMethod"], event["path"])

    assert set(event) == API_KEYS
    assert event["resource"] == route.path
    assert (event["pathParameters"] or {}) == params
    assert {k: [v] for k, v in event["headers"].items()} == event["multiValueHeaders"]
    query = event["queryStringParameters"] or {}
    assert {k: [v] for k, v in query.items()} == (event["multiValueQueryStringParameters"] or {})
    context = event["requestContext"]
    assert context["stage"] and context["requestId"] and context["identity"]["sourceIp"]
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert event["isBase64Encoded"] is False
    if event["body"] is not None:
        assert event["headers"]["Content-Type"] == "application/json"
    if route.authorizer is None:
        assert "authorizer" not in context
    else:
        assert set(context["authorizer"]) >= CONTEXT_KEYS
        assert event["headers"]["Authorization"].startswith("Bearer ")


def _seed_sample_tenant(aws: h.World) -> None:
    """Store the tenant, keys and agent the samples name, with the samples' key hashes."""
    from agenthub.table import bind_table
    from agents.dal import repository as agents
    from agents.models import Agent
    from identity.dal import repository as identity
    from identity.logic import key_format
    from identity.models import KeyRecord, Tenant

    bind_table(aws.table_name)
    secret = load_event("identity/authorizer_secret_key")["headers"]["Authorization"][7:]
    public = load_event("identity/authorizer_publishable_key")["headers"]["Authorization"][7:]
    sk, pk = key_format.parse_key(secret), key_format.parse_key(public)
    assert sk is not None and pk is not None
    agent_id = load_event("agents/api_get_agent")["pathParameters"]["agentId"]
    origin = load_event("agents/api_get_public_config")["headers"]["Origin"]
    now = "2025-11-26T10:00:00.000000Z"

    def record(key_id: str, key: str, key_type: str, **extra: object) -> KeyRecord:
        return KeyRecord(
            id=key_id,
            tenant_id=sk.tenant_id,
            type=key_type,  # type: ignore[arg-type]
            name=f"sample {key_type}",
            last4=key[-4:],
            key_hash=key_format.hash_key(key),
            created_at=now,
            **extra,  # type: ignore[arg-type]
        )

    tenant = Tenant(id=sk.tenant_id, name="Acme Dental", created_at=now)
    identity.create_tenant_with_owner_key(
        tenant, record(sk.key_id, secret, "secret", role="owner"), []
    )
    member_id = load_event("identity/api_revoke_key")["pathParameters"]["keyId"]
    identity.put_key(record(member_id, "sk_member", "secret", role="member"), [])
    identity.put_key(
        record(pk.key_id, public, "publishable", agent_id=agent_id, allowed_origins=[origin]), []
    )
    agents.create(
        Agent(
            id=agent_id, tenant_id=sk.tenant_id, name="Front desk", created_at=now, updated_at=now
        ),
        [],
    )


# In this order, each sample as it is in events/ (the sample tenant seeded first).
AS_IS = [
    ("identity/api_create_tenant", 401),  # the placeholder is not the platform admin token
    ("identity/api_get_tenant", 200),
    ("identity/api_create_key", 201),
    ("identity/api_list_keys", 200),
    ("identity/api_revoke_key", 200),
    ("identity/api_create_publishable_key", 201),
    ("identity/api_list_publishable_keys", 200),
    ("agents/api_create_agent", 201),
    ("agents/api_create_agent_malformed_json", 400),
    ("agents/api_list_agents", 200),
    ("agents/api_get_agent", 200),
    ("agents/api_update_agent", 200),
    ("agents/api_get_public_config", 200),
    ("identity/api_revoke_publishable_key", 200),
    ("agents/api_delete_agent", 204),
    ("audit/api_list_audit_log", 200),
    ("docs/api_get_openapi", 200),
    ("docs/api_get_docs", 200),
]


def test_samples_work_as_they_are(aws: h.World):
    # Given the tenant, keys and agent the samples refer to
    _seed_sample_tenant(aws)

    # When the authorizer samples are presented to the real authorizer
    secret_policy = h.invoke(h.AUTHORIZER, load_event("identity/authorizer_secret_key"))
    public_policy = h.invoke(h.AUTHORIZER, load_event("identity/authorizer_publishable_key"))

    # Then they are allowed, and their verdicts are the contexts the API samples carry
    assert secret_policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert public_policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    api_secret = load_event("agents/api_get_agent")["requestContext"]["authorizer"]
    api_public = load_event("agents/api_get_public_config")["requestContext"]["authorizer"]
    assert {k: api_secret[k] for k in CONTEXT_KEYS} == {
        k: v for k, v in h.context_of(secret_policy).items() if k in CONTEXT_KEYS
    }
    assert {k: api_public[k] for k in CONTEXT_KEYS} == {
        k: v for k, v in h.context_of(public_policy).items() if k in CONTEXT_KEYS
    }

    # And every API sample, invoked as it is, answers what it should
    for name, status in AS_IS:
        event = load_event(name)
        route, _ = h.route_for(event["httpMethod"], event["path"])
        response = h.invoke(route.handler_module, event)
        assert response["statusCode"] == status, (name, response.get("body", "")[:300])


def test_sqs_samples_feed_the_audit_consumer(aws: h.World):
    # When the audit consumer gets the good sample, then the poison one
    good = h.invoke(h.CONSUMER, load_event("audit/sqs_domain_event"))
    poison_event = load_event("audit/sqs_domain_event_poison")
    poison = h.invoke(h.CONSUMER, poison_event)

    # Then the good batch has no failures and the poison batch fails exactly its bad records
    assert good == {"batchItemFailures": []}
    bad_ids = [r["messageId"] for r in poison_event["Records"][1:]]
    assert poison["batchItemFailures"] == [{"itemIdentifier": i} for i in bad_ids]


@pytest.mark.parametrize("name", ["audit/schedule_archive", "audit/schedule_archive_as_of"])
def test_schedule_samples_run_the_archive_job(aws: h.World, name: str):
    result = h.invoke(h.ARCHIVE, load_event(name))
    assert isinstance(result["archived_days"], dict)
