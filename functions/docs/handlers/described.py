"""What the route tables do not say and the OpenAPI document must: each operation's success
status, the error statuses it can answer (all in the one error envelope), and its query and
header parameters. Kept next to the document it completes; tests/integration/test_docs.py
checks it against the routes and against real answers.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}

# Answers other than 200 on success (a route not listed answers 200).
SUCCESS: dict[tuple[str, str], int] = {
    ("POST", "/v1/tenants"): 201,
    ("POST", "/v1/keys"): 201,
    ("POST", "/v1/publishable-keys"): 201,
    ("POST", "/v1/agents"): 201,
    ("DELETE", "/v1/agents/{agentId}"): 204,
    ("DELETE", "/v1/payments/stripe"): 204,
    ("POST", "/v1/agents/{agentId}/documents"): 202,
    ("DELETE", "/v1/agents/{agentId}/documents/{documentId}"): 202,
    ("POST", "/v1/agents/{agentId}/documents/{documentId}/retry"): 202,
    ("POST", "/v1/agents/{agentId}/conversations"): 201,
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages"): 201,
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/lead"): 201,
    ("POST", "/v1/agents/{agentId}/identity-secret"): 201,
    ("POST", "/v1/public/agents/{agentId}/conversations"): 201,
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/messages"): 201,
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/lead"): 201,
}

# GET routes answering 304 to a matching If-None-Match (they send an ETag).
CONDITIONAL = {
    "/v1/tenant",
    "/v1/agents/{agentId}",
    "/v1/public/agents/{agentId}/config",
    "/v1/agents/{agentId}/conversations/{conversationId}",
    "/v1/agents/{agentId}/documents/{documentId}",
}

Parameter = tuple[str, dict[str, Any], str]  # name, schema, description
PAGE: list[Parameter] = [
    ("limit", {"type": "integer", "minimum": 1}, "page size (route's maximum applies)"),
    ("cursor", {"type": "string"}, "next_cursor of the previous page"),
]
FIELDS: list[Parameter] = [
    ("fields", {"type": "string"}, "comma-separated top-level fields to return")
]
FLAG: dict[str, Any] = {"type": "string", "enum": ["true", "false"]}
QUERY: dict[tuple[str, str], list[Parameter]] = {
    ("GET", "/v1/agents"): PAGE + FIELDS,
    ("GET", "/v1/agents/{agentId}"): FIELDS,
    ("GET", "/v1/audit-log"): PAGE,
    ("GET", "/v1/agents/{agentId}/documents"): PAGE,
    ("GET", "/v1/conversations"): PAGE
    + FIELDS
    + [
        ("agent_id", {"type": "string"}, "only this agent's conversations"),
        ("from", {"type": "string"}, "ISO-8601 date or date-time (started at or after)"),
        ("to", {"type": "string"}, "ISO-8601 date or date-time (started at or before)"),
        ("unanswered", FLAG, "only conversations with an abstained answer"),
        ("has_lead", FLAG, "only conversations with a lead"),
        ("handoff", FLAG, "only conversations handed to a human"),
    ],
    ("GET", "/v1/public/agents/{agentId}/conversations/{conversationId}"): [
        ("visitor_token", {"type": "string"}, "the token the conversation's start returned"),
    ],
}


def _parameter(name: str, where: str, schema: dict[str, Any], text: str, required: bool) -> Any:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": text}


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def describe(method: str, path: str, operation: dict[str, Any], has_body: bool) -> None:
    """Complete one operation of the document in place."""
    public = path.startswith("/v1/public/")
    parameters = operation.setdefault("parameters", [])
    for name, schema, text in QUERY.get((method, path), []):
        parameters.append(_parameter(name, "query", schema, text, name == "visitor_token"))
    if public:
        text = "an origin the publishable key allows (API Gateway refuses a call without: 401)"
        parameters.append(_parameter("Origin", "header", {"type": "string"}, text, True))
    if method == "PATCH" and path == "/v1/agents/{agentId}":
        text = 'the agent\'s ETag ("v3"), unless the body names its version'
        parameters.append(_parameter("If-Match", "header", {"type": "string"}, text, False))
    if method == "GET" and path in CONDITIONAL:
        text = "an ETag of an earlier answer: 304 when unchanged"
        parameters.append(_parameter("If-None-Match", "header", {"type": "string"}, text, False))

    status = SUCCESS.get((method, path), 200)
    success = operation.get("responses", {}).get("200") or {"description": "Success"}
    success = {**success, "description": success.get("description") or "Success"}
    responses: dict[str, Any] = {}
    if status == 204:
        responses["204"] = {"description": "Done; no content"}
    else:
        content = {"application/json": {"schema": {"type": "object"}}}
        responses[str(status)] = {"description": success["description"], "content": content}
    if method == "GET" and path in CONDITIONAL:
        responses["304"] = {"description": "Not modified (If-None-Match named the ETag)"}
    responses["400"] = _error("Malformed request: JSON, query parameter or cursor")
    responses["401"] = _error("No key, an invalid key (or, on widget routes, no Origin)")
    responses["403"] = _error("The key's role or origin may not do this")
    responses["404"] = _error("Not found (also another tenant's or agent's ids)")
    if method in ("POST", "PATCH", "DELETE"):
        responses["409"] = _error("Conflict with the current state")
    if has_body:
        responses["413"] = _error("Body too large")
        responses["415"] = _error("Body is not application/json")
        responses["422"] = _error("Body does not validate (details name the fields)")
    if method == "PATCH":
        responses["428"] = _error("If-Match (or the body's version) is required")
    responses["429"] = _error("Throttled or rate limited (Retry-After)")
    responses["500"] = _error("Internal error (never with internals)")
    responses["503"] = _error("A dependency is unavailable (Retry-After)")
    operation["responses"] = responses
