"""Who may call what: every route of identity, agents, audit and docs, for every kind of key,
both at the handler (the authorizer's real context) and through the emulated API Gateway
(authorizer, IAM policy, handler).

The table is written out on purpose, not derived from the code's WRITERS / MANAGERS /
ALL_ROLES: a change of who may do what must change this table too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration import harness as h

CONVERSATIONS = "conversations.handlers.api"

ROLES = ("owner", "admin", "member", "viewer", "publishable")

# fmt: off
EXPECTED: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    #                                               owner admin member viewer publishable
    ("POST", "/v1/tenants"):                         (401,  401,  401,   401,   401),  # admin token
    ("GET", "/v1/tenant"):                           (200,  200,  200,   200,   403),
    ("POST", "/v1/keys"):                            (201,  201,  403,   403,   403),
    ("GET", "/v1/keys"):                             (200,  200,  403,   403,   403),
    ("DELETE", "/v1/keys/{keyId}"):                  (200,  200,  403,   403,   403),
    ("POST", "/v1/publishable-keys"):                (201,  201,  403,   403,   403),
    ("GET", "/v1/publishable-keys"):                 (200,  200,  403,   403,   403),
    ("DELETE", "/v1/publishable-keys/{keyId}"):      (200,  200,  403,   403,   403),
    ("POST", "/v1/agents"):                          (201,  201,  201,   403,   403),
    ("GET", "/v1/agents"):                           (200,  200,  200,   200,   403),
    ("GET", "/v1/agents/{agentId}"):                 (200,  200,  200,   200,   403),
    ("PATCH", "/v1/agents/{agentId}"):               (200,  200,  200,   403,   403),
    ("DELETE", "/v1/agents/{agentId}"):              (204,  204,  403,   403,   403),
    ("GET", "/v1/public/agents/{agentId}/config"):   (403,  403,  403,   403,   200),
    ("GET", "/v1/audit-log"):                        (200,  200,  403,   403,   403),
    ("GET", "/v1/openapi.json"):                     (200,  200,  200,   200,   200),  # public
    ("GET", "/v1/docs"):                             (200,  200,  200,   200,   200),  # public
    ("GET", "/v1/health"):                           (200,  200,  200,   200,   200),  # public
    ("POST", "/v1/agents/{agentId}/documents"):      (202,  202,  202,   403,   403),
    ("GET", "/v1/agents/{agentId}/documents"):       (200,  200,  200,   200,   403),
    ("GET", "/v1/agents/{agentId}/documents/{documentId}"):
                                                     (200,  200,  200,   200,   403),
    ("DELETE", "/v1/agents/{agentId}/documents/{documentId}"):
                                                     (202,  202,  202,   403,   403),
    ("POST", "/v1/agents/{agentId}/documents/{documentId}/retry"):
                                                     (202,  202,  202,   403,   403),
    ("POST", "/v1/agents/{agentId}/documents/{documentId}/upload-url"):
                                                     (200,  200,  200,   403,   403),
    ("POST", "/v1/agents/{agentId}/imports"):        (202,  202,  202,   403,   403),
    ("GET", "/v1/agents/{agentId}/imports/{importId}"):
                                                     (200,  200,  200,   200,   403),
    ("GET", "/v1/agents/{agentId}/index"):           (200,  200,  200,   200,   403),
    ("POST", "/v1/agents/{agentId}/search"):         (200,  200,  200,   200,   403),
    # conversations: the widget's routes (its publishable key and the visitor's token) ...
    ("POST", "/v1/public/agents/{agentId}/conversations"):
                                                     (403,  403,  403,   403,   201),
    ("GET", "/v1/public/agents/{agentId}/conversations/{conversationId}"):
                                                     (403,  403,  403,   403,   200),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/messages"):
                                                     (403,  403,  403,   403,   201),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback"):  # noqa: E501
                                                     (403,  403,  403,   403,   200),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/lead"):
                                                     (403,  403,  403,   403,   201),
    ("POST", "/v1/public/agents/{agentId}/conversations/{conversationId}/handoff"):
                                                     (403,  403,  403,   403,   200),
    # ... and the tenant's server's
    ("POST", "/v1/agents/{agentId}/conversations"):  (201,  201,  201,   403,   403),
    ("GET", "/v1/agents/{agentId}/conversations/{conversationId}"):
                                                     (200,  200,  200,   200,   403),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages"):
                                                     (201,  201,  201,   403,   403),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback"):
                                                     (200,  200,  200,   403,   403),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/lead"):
                                                     (201,  201,  201,   403,   403),
    ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/handoff"):
                                                     (200,  200,  200,   403,   403),
    ("GET", "/v1/conversations"):                    (200,  200,  200,   200,   403),
    ("POST", "/v1/agents/{agentId}/identity-secret"):
                                                     (201,  201,  403,   403,   403),
    # scheduling: the tenant's configuration and bookings ...
    ("POST", "/v1/scheduling/resources"):            (201,  201,  201,   403,   403),
    ("GET", "/v1/scheduling/resources"):             (200,  200,  200,   200,   403),
    ("GET", "/v1/scheduling/resources/{resourceId}"):
                                                     (200,  200,  200,   200,   403),
    ("PATCH", "/v1/scheduling/resources/{resourceId}"):
                                                     (200,  200,  200,   403,   403),
    ("DELETE", "/v1/scheduling/resources/{resourceId}"):
                                                     (204,  204,  403,   403,   403),
    ("POST", "/v1/scheduling/resources/{resourceId}/feed"):
                                                     (201,  201,  403,   403,   403),
    ("POST", "/v1/scheduling/resources/{resourceId}/busy-sync"):
                                                     (200,  200,  200,   403,   403),
    ("POST", "/v1/scheduling/event-types"):          (201,  201,  201,   403,   403),
    ("GET", "/v1/scheduling/event-types"):           (200,  200,  200,   200,   403),
    ("GET", "/v1/scheduling/event-types/{eventTypeId}"):
                                                     (200,  200,  200,   200,   403),
    ("PATCH", "/v1/scheduling/event-types/{eventTypeId}"):
                                                     (200,  200,  200,   403,   403),
    ("DELETE", "/v1/scheduling/event-types/{eventTypeId}"):
                                                     (204,  204,  403,   403,   403),
    ("GET", "/v1/scheduling/event-types/{eventTypeId}/slots"):
                                                     (200,  200,  200,   200,   403),
    ("POST", "/v1/bookings"):                        (201,  201,  201,   403,   403),
    ("GET", "/v1/bookings"):                         (200,  200,  200,   200,   403),
    ("GET", "/v1/bookings/{bookingId}"):             (200,  200,  200,   200,   403),
    ("POST", "/v1/bookings/{bookingId}/confirm"):    (200,  200,  200,   403,   403),
    ("POST", "/v1/bookings/{bookingId}/cancel"):     (200,  200,  200,   403,   403),
    ("POST", "/v1/bookings/{bookingId}/reschedule"): (200,  200,  200,   403,   403),
    # ... the widget's (publishable key) ...
    ("GET", "/v1/public/agents/{agentId}/event-types"):
                                                     (403,  403,  403,   403,   200),
    ("GET", "/v1/public/agents/{agentId}/event-types/{eventTypeId}/slots"):
                                                     (403,  403,  403,   403,   200),
    ("POST", "/v1/public/agents/{agentId}/bookings"):
                                                     (403,  403,  403,   403,   201),
    # ... and the visitor's links and the calendar feed: their tokens, whatever the key
    ("GET", "/v1/public/bookings/manage"):           (200,  200,  200,   200,   200),
    ("POST", "/v1/public/bookings/cancel"):          (200,  200,  200,   200,   200),
    ("POST", "/v1/public/bookings/reschedule"):      (200,  200,  200,   200,   200),
    ("GET", "/v1/public/calendars/{tenantId}/{resourceId}"):
                                                     (200,  200,  200,   200,   200),
    # billing and analytics
    ("GET", "/v1/billing/plans"):                    (200,  200,  200,   200,   403),
    ("GET", "/v1/billing/account"):                  (200,  200,  200,   200,   403),
    ("PATCH", "/v1/billing/account"):                (200,  200,  403,   403,   403),
    ("GET", "/v1/billing/usage"):                    (200,  200,  200,   200,   403),
    ("GET", "/v1/billing/usage/agents/{agentId}"):   (200,  200,  200,   200,   403),
    ("GET", "/v1/billing/invoice-preview"):          (200,  200,  403,   403,   403),
    ("GET", "/v1/analytics/agents/{agentId}/series"):
                                                     (200,  200,  200,   200,   403),
    ("GET", "/v1/analytics/agents/{agentId}/report"):
                                                     (200,  200,  200,   200,   403),
    ("GET", "/v1/analytics/agents/{agentId}/export"):
                                                     (200,  200,  200,   200,   403),
    ("GET", "/v1/analytics/settings"):               (200,  200,  200,   200,   403),
    ("PUT", "/v1/analytics/settings"):               (200,  200,  403,   403,   403),
}
# fmt: on


@dataclass
class Org:
    tenant: h.Tenant
    keys: dict[str, h.Principal]
    agent: dict
    spare_secret_key: h.Principal  # a member key, revoked by DELETE /v1/keys/{keyId}
    spare_widget_key: h.Principal
    document_id: str  # an indexed text source
    import_id: str  # a queued site import
    upload_id: str  # an upload source awaiting its file
    conversation_id: str  # started by the widget, with one answered question
    visitor_token: str  # that conversation's visitor
    answer_id: str  # the answer in it
    scheduling: dict  # resource, spare resource, event type, spare event type, booking, ...


@pytest.fixture(scope="module")
def org(aws: h.World) -> Iterator[Org]:
    """One tenant with a key of every kind. Its items are snapshotted: every test of this
    module starts from exactly this state (a deleted agent or key is back for the next)."""
    tenant = h.create_tenant("Matrix Inc")
    agent = tenant.agent()
    keys = {role: tenant.key(role) for role in ("admin", "member", "viewer")}
    keys["owner"] = tenant.owner
    keys["publishable"] = tenant.widget_key(agent["id"])
    documents = f"/v1/agents/{agent['id']}/documents"
    text = {"source": {"type": "text", "text": "# Hours\n\nOpen from 9am to 6pm."}}
    document = h.api(h.KNOWLEDGE, "POST", documents, text, caller=tenant.owner).json
    h.ingest_queued(aws)
    upload = {"source": {"type": "upload", "file_name": "a.pdf", "size": 100}}
    uploaded = h.api(h.KNOWLEDGE, "POST", documents, upload, caller=tenant.owner).json
    site = {"type": "sitemap", "url": "https://docs.example.com/sitemap.xml"}
    imports = f"/v1/agents/{agent['id']}/imports"
    imported = h.api(h.KNOWLEDGE, "POST", imports, site, caller=tenant.owner).json
    h.take_messages(aws.ingestion_queue_url)  # the import is only read here, never run
    conversations = f"/v1/public/agents/{agent['id']}/conversations"
    origin = {"Origin": h.ALLOWED_ORIGIN}
    started = h.api(
        CONVERSATIONS, "POST", conversations, {}, caller=keys["publishable"], headers=origin
    ).json
    conversation_id, token = started["conversation"]["id"], started["visitor_token"]
    asked = h.api(
        CONVERSATIONS,
        "POST",
        f"{conversations}/{conversation_id}/messages",
        {"text": "When are you open?", "visitor_token": token},
        caller=keys["publishable"],
        headers=origin,
    ).json
    scheduling = _scheduling(tenant, agent, keys["publishable"])
    org = Org(
        scheduling=scheduling,
        tenant=tenant,
        keys=keys,
        agent=agent,
        spare_secret_key=tenant.key("member", name="spare"),
        spare_widget_key=tenant.widget_key(agent["id"]),
        document_id=document["document"]["id"],
        upload_id=uploaded["document"]["id"],
        import_id=imported["import"]["id"],
        conversation_id=conversation_id,
        visitor_token=token,
        answer_id=asked["answer"]["id"],
    )
    h.keep_tenant(aws, tenant.id)
    yield org
    h.forget_tenant(tenant.id)


def _monday_ahead() -> str:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return (today + timedelta(days=14 - today.weekday())).isoformat()


def _scheduling(tenant: h.Tenant, agent: dict, widget: h.Principal) -> dict:
    """A resource with an event type and a booking (made through the widget: its manage
    token), a spare resource and event type to delete, and a feed token."""
    weekly = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
    made = {}
    for name in ("resource", "spare_resource"):
        body = {"name": name, "time_zone": "UTC", "weekly": weekly}
        if name == "resource":
            body["busy_ics_url"] = "http://127.0.0.1:9/busy.ics"  # refused: a private address
        made[name] = h.api(
            h.SCHEDULING, "POST", "/v1/scheduling/resources", body, caller=tenant.owner
        ).json
    for name in ("event_type", "spare_event_type"):
        body = {
            "agent_id": agent["id"],
            "resource_id": made["resource"]["id"],
            "name": name,
            "duration_minutes": 30,
            "min_notice_minutes": 0,
        }
        made[name] = h.api(
            h.SCHEDULING, "POST", "/v1/scheduling/event-types", body, caller=tenant.owner
        ).json
    day = _monday_ahead()
    booking = h.api(
        h.SCHEDULING,
        "POST",
        f"/v1/public/agents/{agent['id']}/bookings",
        {
            "event_type_id": made["event_type"]["id"],
            "start": f"{day}T09:00:00Z",
            "name": "Matrix",
            "email": "m@example.com",
        },
        caller=widget,
        headers={"Origin": h.ALLOWED_ORIGIN, "Idempotency-Key": None},
    ).json
    feed = h.api(
        h.SCHEDULING,
        "POST",
        f"/v1/scheduling/resources/{made['resource']['id']}/feed",
        caller=tenant.owner,
    ).json
    return {**made, "booking": booking, "feed_token": feed["token"], "day": day}


def _request(org: Org, method: str, route: str) -> tuple[str, dict | None, dict[str, str]]:
    """The concrete path, body and headers that make a valid request to ``route``."""
    document = org.upload_id if route.endswith("/upload-url") else org.document_id
    path = (
        route.replace("{agentId}", org.agent["id"])
        .replace("{documentId}", document)
        .replace("{importId}", org.import_id)
        .replace("/v1/keys/{keyId}", f"/v1/keys/{org.spare_secret_key.key_id}")
        .replace("{keyId}", org.spare_widget_key.key_id)
        .replace("{conversationId}", org.conversation_id)
        .replace("{messageId}", org.answer_id)
        .replace("{tenantId}", org.tenant.id)
    )
    sched = org.scheduling
    deleted = method == "DELETE"
    path = (
        path.replace("{resourceId}", sched["spare_resource" if deleted else "resource"]["id"])
        .replace("{eventTypeId}", sched["spare_event_type" if deleted else "event_type"]["id"])
        .replace("{bookingId}", sched["booking"]["id"])
    )
    token = sched["booking"]["manage_token"]
    day = sched["day"]
    bodies = {
        ("POST", "/v1/tenants"): {"name": "Another"},
        ("POST", "/v1/keys"): {"name": "new", "role": "member"},
        ("POST", "/v1/publishable-keys"): {
            "agent_id": org.agent["id"],
            "allowed_origins": [h.ALLOWED_ORIGIN],
        },
        ("POST", "/v1/agents"): {"name": "Second agent"},
        ("PATCH", "/v1/agents/{agentId}"): {"greeting": "Hello there"},
        ("POST", "/v1/agents/{agentId}/documents"): {"source": {"type": "text", "text": "More."}},
        ("POST", "/v1/agents/{agentId}/documents/{documentId}/upload-url"): {"size": 200},
        ("POST", "/v1/agents/{agentId}/imports"): {
            "type": "crawl",
            "url": "https://docs.example.com/guide/",
        },
        ("POST", "/v1/agents/{agentId}/search"): {"query": "hours"},
        ("POST", "/v1/agents/{agentId}/conversations"): {},
        ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/messages"): {
            "text": "When are you open?"
        },
        (
            "POST",
            "/v1/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
        ): {"rating": "up"},
        ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/lead"): {
            "email": "dana@example.com"
        },
        ("POST", "/v1/agents/{agentId}/conversations/{conversationId}/handoff"): {},
        ("POST", "/v1/scheduling/resources"): {"name": "Room", "time_zone": "UTC", "weekly": {}},
        ("PATCH", "/v1/scheduling/resources/{resourceId}"): {
            "version": sched["resource"]["version"],
            "name": "Renamed",
        },
        ("POST", "/v1/scheduling/event-types"): {
            "agent_id": org.agent["id"],
            "resource_id": sched["resource"]["id"],
            "name": "Another",
            "duration_minutes": 60,
        },
        ("PATCH", "/v1/scheduling/event-types/{eventTypeId}"): {
            "version": sched["event_type"]["version"],
            "duration_minutes": 45,
        },
        ("POST", "/v1/bookings"): {
            "event_type_id": sched["event_type"]["id"],
            "start": f"{day}T10:00:00Z",
            "name": "Server",
            "email": "s@example.com",
        },
        ("POST", "/v1/bookings/{bookingId}/confirm"): {},
        ("POST", "/v1/bookings/{bookingId}/cancel"): {"reason": "matrix"},
        ("POST", "/v1/bookings/{bookingId}/reschedule"): {"start": f"{day}T11:00:00Z"},
        ("POST", "/v1/public/agents/{agentId}/bookings"): {
            "event_type_id": sched["event_type"]["id"],
            "start": f"{day}T12:00:00Z",
            "name": "Widget",
            "email": "w@example.com",
        },
        ("POST", "/v1/public/bookings/cancel"): {"token": token},
        ("PATCH", "/v1/billing/account"): {"billing_email": "billing@matrix.example"},
        ("PUT", "/v1/analytics/settings"): {"time_zone": "Europe/Berlin"},
        ("POST", "/v1/public/bookings/reschedule"): {"token": token, "start": f"{day}T13:00:00Z"},
    }
    body = bodies.get((method, route))
    if route.startswith("/v1/public/agents/{agentId}/conversations") and method == "POST":
        # the widget's routes take the server route's body plus the visitor token
        server_route = route.replace("/v1/public/", "/v1/", 1)
        body = {**bodies.get(("POST", server_route), {}), "visitor_token": org.visitor_token}
    headers = {"If-Match": '"v1"'} if method == "PATCH" else {}
    headers["Idempotency-Key"] = None  # the scheduling samples carry one
    return path, body, headers


def _query(org: Org, method: str, route: str) -> dict[str, str] | None:
    """The widget reads a conversation with its visitor token in the query."""
    if (method, route) == ("GET", "/v1/public/agents/{agentId}/conversations/{conversationId}"):
        return {"visitor_token": org.visitor_token}
    if route == "/v1/public/bookings/manage":
        return {"token": org.scheduling["booking"]["manage_token"]}
    if route.startswith("/v1/public/calendars/"):
        return {"token": org.scheduling["feed_token"]}
    if (method, route) == ("GET", "/v1/bookings"):
        return {"resource_id": org.scheduling["resource"]["id"]}
    return None


CASES = [
    pytest.param(method, route, role, status, id=f"{method} {route} as {role}")
    for (method, route), statuses in EXPECTED.items()
    for role, status in zip(ROLES, statuses, strict=True)
]


def test_the_table_covers_every_route_of_the_covered_functions():
    assert set(EXPECTED) == {(r.method, r.path) for r in h.covered_routes()}


@pytest.mark.parametrize(("method", "route", "role", "expected"), CASES)
def test_handler_enforces_roles(org: Org, method, route, role, expected):
    # Given a real key of this role and the context the real authorizer gave it
    key = org.keys[role]
    path, body, headers = _request(org, method, route)

    # When the route's function is invoked with that context (as if the gateway let it in)
    module = h.route_for(method, path)[0].handler_module
    response = h.api(
        module,
        method,
        path,
        body,
        caller=key,
        headers={**headers, "Origin": h.ALLOWED_ORIGIN},
        query=_query(org, method, route),
    )

    # Then the answer is exactly the expected one, errors in the envelope
    assert response.status == expected, response
    if expected >= 400:
        assert response.error_code in {"unauthorized", "forbidden", "origin_not_allowed"}


@pytest.mark.parametrize(("method", "route", "role", "expected"), CASES)
def test_gateway_enforces_roles(org: Org, method, route, role, expected):
    # Given a real key of this role, sent from the widget's origin
    key = org.keys[role]
    path, body, headers = _request(org, method, route)

    # When the request goes through API Gateway: authorizer, policy, then the function
    response = h.gateway(
        method,
        path,
        body,
        key=key,
        origin=h.ALLOWED_ORIGIN,
        headers=headers,
        query=_query(org, method, route),
    )

    # Then the caller sees the same status, whichever layer refused it
    assert response.status == expected, response


@pytest.mark.parametrize(
    ("method", "route"),
    [("POST", "/v1/agents"), ("PATCH", "/v1/agents/{agentId}"), ("POST", "/v1/keys")],
)
def test_role_is_checked_before_the_body_is_read(org: Org, method, route):
    # Given a viewer sending a malformed body, the answer is about the role, not the body
    path, _, headers = _request(org, method, route)
    response = h.api(
        h.route_for(method, path)[0].handler_module,
        method,
        path,
        raw_body="{not json",
        caller=org.keys["viewer"],
        headers=headers,
    )
    assert response.status == 403, response
