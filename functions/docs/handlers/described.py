"""What Powertools' route tables do not say and the OpenAPI document must: each operation's
success answer (its statuses and body schema, from the route's ``@answers``), the error
statuses it can answer (all in the one error envelope), and its query and header parameters.
Kept next to the document it completes; tests/integration/test_docs.py checks it against the
routes, and every answer of the integration tests is checked against it
(tests/integration/contract.py).
"""

from __future__ import annotations

from typing import Any

from agenthub.http import JSON, AnswerSpec

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

# Success bodies described here rather than by a route's ``@answers`` model (the message
# exchange joins conversations' answer and scheduling's offer).
EXCHANGE: dict[str, Any] = {
    "type": "object",
    "required": ["question", "answer", "actions"],
    "properties": {
        "question": {"type": "object", "description": "the visitor's message as stored"},
        "answer": {
            "type": ["object", "null"],
            "description": "the agent's answer; null while a person holds the conversation",
        },
        "actions": {
            "type": "array",
            "description": (
                "what the visitor can do next: a booking offer (the agent's event types with"
                " their next open slots, UTC) when the question asks to book; else empty"
            ),
            "items": {"$ref": "#/components/schemas/BookingOffer"},
        },
    },
}
SUCCESS_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages"): EXCHANGE,
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/messages"): EXCHANGE,
}

# GET routes answering 304 to a matching If-None-Match (they send an ETag).
CONDITIONAL = {
    "/v1/tenant",
    "/v1/agents/{agentId}",
    "/v1/public/agents/{agentId}/config",
    "/v1/agents/{agentId}/conversations/{conversationId}",
    "/v1/agents/{agentId}/documents/{documentId}",
}

# Reads that answer 409 when the tenant's state does not allow them yet.
CONFLICTING_READS = {
    ("GET", "/v1/agents/{agentId}/embed"),  # the agent has no active publishable key
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


def describe(
    method: str,
    path: str,
    operation: dict[str, Any],
    has_body: bool,
    answer: AnswerSpec | None,
    components: dict[str, Any],
) -> None:
    """Complete one operation of the document in place (``answer``: the route's ``@answers``;
    a route without one answers 200 with a JSON object; ``components``: the document's
    schemas, where the answer's models are added)."""
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

    answer = answer or AnswerSpec(statuses=(200,))
    summary = (operation.get("responses", {}).get("200") or {}).get("description") or "Success"
    responses: dict[str, Any] = {}
    for status in answer.statuses:
        if status == 204:
            responses["204"] = {"description": "Done; no content"}
        else:
            content = {
                media: {
                    "schema": SUCCESS_BODIES.get((method, path))
                    or success_schema(answer, media, components)
                }
                for media in answer.media
            }
            responses[str(status)] = {"description": summary, "content": content}
    if method == "GET" and path in CONDITIONAL:
        responses["304"] = {"description": "Not modified (If-None-Match named the ETag)"}
    responses["400"] = _error("Malformed request: JSON, query parameter or cursor")
    responses["401"] = _error("No key, an invalid key (or, on widget routes, no Origin)")
    responses["403"] = _error("The key's role or origin may not do this")
    responses["404"] = _error("Not found (also another tenant's or agent's ids)")
    if method in ("POST", "PATCH", "DELETE") or (method, path) in CONFLICTING_READS:
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


def success_schema(answer: AnswerSpec, media: str, components: dict[str, Any]) -> dict[str, Any]:
    """The body schema of a success answer; its models join ``components``."""
    if media != JSON:
        return {"type": "string"}
    if answer.model is None:
        return {"type": "object"}
    schema = _model_schema(answer.model, components)
    if answer.exclude or answer.partial:  # less the fields the route leaves out, inline
        whole = components[answer.model.__name__ + ANSWER]
        kept = {k: v for k, v in whole.get("properties", {}).items() if k not in answer.exclude}
        required = [k for k in whole.get("required", []) if k in kept and not answer.partial]
        schema = {**whole, "properties": kept, "required": required}
    if answer.page:
        schema = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": schema},
                "next_cursor": {"type": ["string", "null"]},
            },
        }
    if answer.key:
        schema = {"type": "object", "required": [answer.key], "properties": {answer.key: schema}}
    return schema


# Response models are documented as serialized (mode="serialization"); a request body of the
# same name (validated input) keeps its name, so answers' schemas carry this suffix.
ANSWER = "Answer"


def _model_schema(model: type[Any], components: dict[str, Any]) -> dict[str, Any]:
    template = "#/components/schemas/{model}" + ANSWER
    schema: dict[str, Any] = model.model_json_schema(mode="serialization", ref_template=template)
    for name, sub in schema.pop("$defs", {}).items():
        _add(components, name + ANSWER, sub)
    _add(components, model.__name__ + ANSWER, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}{ANSWER}"}


def _add(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    known = components.setdefault(name, schema)
    if known != schema:
        raise ValueError(f"two different answer schemas are named {name}")
