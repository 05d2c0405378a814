"""Every key format of the single table, in one place.

Every partition key starts with the tenant (``TENANT#<id>``): tenant isolation, and DynamoDB
spreads customers across partitions. The README's access-pattern table mirrors this module.
"""

from __future__ import annotations

TENANT_PREFIX = "TENANT#"


def tenant_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}"


# identity
TENANT_SK = "TENANT"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


API_KEY_SK_PREFIX = "KEY#"


# agents
def agent_sk(agent_id: str) -> str:
    return f"AGENT#{agent_id}"


AGENT_SK_PREFIX = "AGENT#"


# audit log: its own partition per tenant so listing newest first is one query; the day
# index (gsi1) lets the archive job find old entries of every tenant without a scan.
def audit_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#AUDIT"


def audit_sk(occurred_at: str, event_id: str) -> str:
    return f"{occurred_at}#{event_id}"


def audit_day_gsi1pk(day: str) -> str:
    return f"AUDITDAY#{day}"


def audit_day_gsi1sk(tenant_id: str, occurred_at: str, event_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#{occurred_at}#{event_id}"


# platform-level bookkeeping (not tenant data): markers of finished scheduled jobs
def job_marker_pk(job: str) -> str:
    return f"JOB#{job}"


def belongs_to_tenant(pk: str, tenant_id: str) -> bool:
    """True when a partition key lies inside the tenant's key space (used to check cursors)."""
    own = tenant_pk(tenant_id)
    return pk == own or pk.startswith(own + "#")


# knowledge: an agent's documents and its index pointer share one partition, so listing the
# documents and reading the live index version are single-partition operations.
def knowledge_pk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#KB#{agent_id}"


def document_sk(document_id: str) -> str:
    return f"DOC#{document_id}"


DOCUMENT_SK_PREFIX = "DOC#"
INDEX_POINTER_SK = "INDEX"


def import_sk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


# transactional outbox: events waiting for the stream relay, per tenant (TTL removes them)
def outbox_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#OUTBOX"


# conversations: each conversation is its own partition (its header, its rolling state and its
# messages), so message traffic spreads across as many partitions as there are conversations.
# The header alone carries gsi1 keys: a tenant's conversations newest first, written when a
# conversation starts or a flag changes (lead, handoff, unanswered), never once per message.
CONVERSATION_SK = "CONV"
CONVERSATION_STATE_SK = "STATE"
MESSAGE_SK_PREFIX = "MSG#"


def conversation_pk(tenant_id: str, conversation_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#CONV#{conversation_id}"


def message_sk(message_id: str) -> str:
    return f"{MESSAGE_SK_PREFIX}{message_id}"


def conversations_gsi1pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#CONVS"


def conversations_gsi1sk(started_at: str, conversation_id: str) -> str:
    return f"{started_at}#{conversation_id}"


# the shared answer cache: one partition per cached answer (reads of popular questions spread),
# the digest covers the index version, the agent version and the normalized question
ANSWER_SK = "ANSWER"


def answer_pk(tenant_id: str, agent_id: str, digest: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#ANSWER#{agent_id}#{digest}"


# rate limits: fixed windows, one item per (subject, window), removed by TTL
def visitor_rate_pk(tenant_id: str, agent_id: str, visitor_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#RATE#VISITOR#{agent_id}#{visitor_id}"


def agent_rate_pk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#RATE#AGENT#{agent_id}"


def rate_window_sk(window_start: int) -> str:
    return f"WINDOW#{window_start}"


# an agent's visitor-identity secret (HMAC key the tenant's server signs visitor ids with)
def identity_secret_sk(agent_id: str) -> str:
    return f"IDSECRET#{agent_id}"
