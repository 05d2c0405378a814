"""Analytics through its real handlers: a visitor's conversation (widget, gateway, real
authorizer and answerer) leaves its events through the outbox, the relay and the template's
AnalyticsRule into the analytics queue; the consumer counts them per agent and local day; the
nightly rollup adds rates, the funnel and top and unanswered questions; the tenant reads
series, reports and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import api, gateway
from tests.integration.test_conversations import Clinic, make_clinic

ANALYTICS = "analytics.handlers.api"
CONSUMER = "analytics.handlers.on_domain_event"
ROLLUP = "analytics.handlers.job_rollup"
NewTenant = Callable[..., h.Tenant]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def count_events(aws: h.World) -> list[dict[str, Any]]:
    """Relay the outbox to the bus, then run the analytics consumer over its queue."""
    h.relay_outbox(aws.table_name)
    results = []
    while messages := h.take_messages(str(aws.ref("AnalyticsEventsQueue"))):
        results.append(h.invoke(CONSUMER, h.sqs_event_from_messages(messages)))
    return results


def read(tenant: h.Tenant, agent_id: str, what: str, **query: str) -> h.HttpResponse:
    path = f"/v1/analytics/agents/{agent_id}/{what}"
    return api(ANALYTICS, "GET", path, caller=tenant.owner, query=query)


def widget(clinic: Clinic, conversation: str, action: str, body: dict[str, Any]) -> None:
    response = gateway(
        "POST",
        f"{clinic.public}/{conversation}/{action}",
        body,
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
    )
    assert response.status in (200, 201), response


@pytest.fixture
def clinic(aws: h.World, tenant: NewTenant) -> Clinic:
    return make_clinic(aws, tenant("Acme Dental"))


@pytest.fixture
def visited(aws: h.World, clinic: Clinic) -> Clinic:
    """A conversation with an answer (rated up), three unanswered questions alike, a lead and
    a handoff, all counted."""
    conversation, token = clinic.begin()
    answer = clinic.answer(conversation, token, "When are you open on Saturdays?")
    for text in ("Do you sell bicycles?", "do you sell bicycles", "Which bicycles do you sell?"):
        assert clinic.answer(conversation, token, text)["abstained"]
    widget(
        clinic,
        conversation,
        f"messages/{answer['id']}/feedback",
        {"rating": "up", "visitor_token": token},
    )
    widget(clinic, conversation, "lead", {"email": "sam@example.com", "visitor_token": token})
    widget(clinic, conversation, "handoff", {"reason": "bikes", "visitor_token": token})
    assert all(r == {"batchItemFailures": []} for r in count_events(aws))
    return clinic


def test_a_conversation_is_counted_per_agent_and_day_within_the_chain(visited: Clinic):
    response = read(
        visited.tenant, visited.agent["id"], "series", **{"from": today(), "to": today()}
    )
    assert response.status == 200, response
    [point] = response.json["days"]
    counts = point["counts"]
    assert point["day"] == today() and response.json["time_zone"] == "UTC"
    assert (counts["conversations"], counts["messages"]) == (1, 4)
    assert (counts["answered"], counts["abstained"]) == (1, 3)
    assert (counts["feedback_up"], counts["feedback_down"]) == (1, 0)
    assert (counts["leads"], counts["handoffs"]) == (1, 1)
    assert point["answer_rate"] == 0.25


def test_a_range_has_every_day_with_zeros_where_nothing_happened(visited: Clinic):
    response = read(
        visited.tenant, visited.agent["id"], "series", **{"from": "2020-01-01", "to": "2020-01-03"}
    )
    assert [d["day"] for d in response.json["days"]] == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert all(d["counts"]["messages"] == 0 for d in response.json["days"])


def test_the_nightly_rollup_groups_unanswered_questions_and_feeds_the_report(
    aws: h.World, visited: Clinic
):
    # When the nightly job rolls up today
    result = h.invoke(ROLLUP, {"days": [today()]})
    assert result["rolled_up"] == 1 and result["failed"] == 0

    # Then the report has the funnel, the rates and the questions
    report = read(visited.tenant, visited.agent["id"], "report", **{"from": today(), "to": today()})
    assert report.status == 200, report
    body = report.json
    assert body["funnel"] == {"conversations": 1, "leads": 1, "bookings": 0, "payments": 0}
    assert body["conversion"]["lead"] == 1.0
    assert body["answer_rate"] == 0.25 and body["satisfaction"] == 1.0
    [gap] = body["unanswered_questions"]
    assert gap["count"] == 3 and "bicycles" in gap["question"].lower()
    top = {q["question"]: q["count"] for q in body["top_questions"]}
    assert top["Do you sell bicycles?"] == 2  # two wordings, identical once normalized
    assert body["rolled_up_days"] == 1


def test_a_rollup_run_again_overwrites_the_day(aws: h.World, visited: Clinic):
    h.invoke(ROLLUP, {"days": [today()]})
    assert h.invoke(ROLLUP, {"days": [today()]})["rolled_up"] == 1
    report = read(visited.tenant, visited.agent["id"], "report", **{"from": today(), "to": today()})
    assert report.json["unanswered_questions"][0]["count"] == 3


def test_the_series_exports_as_csv(visited: Clinic):
    response = read(
        visited.tenant, visited.agent["id"], "export", **{"from": today(), "to": today()}
    )
    assert response.status == 200, response
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.body)))
    assert [(r["day"], r["messages"], r["leads"], r["answer_rate"]) for r in rows] == [
        (today(), "4", "1", "0.25")
    ]


def test_answers_are_cached_30_seconds(aws: h.World, visited: Clinic):
    query = {"from": today(), "to": today()}
    first = read(visited.tenant, visited.agent["id"], "series", **query)
    assert first.headers["Cache-Control"] == "private, max-age=30"
    visited.begin()
    count_events(aws)
    cached = read(visited.tenant, visited.agent["id"], "series", **query)
    assert cached.json["days"][0]["counts"]["conversations"] == 1
    from agenthub import environment

    environment.reset()  # 30 s later, or another environment
    fresh = read(visited.tenant, visited.agent["id"], "series", **query)
    assert fresh.json["days"][0]["counts"]["conversations"] == 2


def test_days_are_the_tenants_local_days(aws: h.World, clinic: Clinic):
    # Given a tenant in Tokyo, and a conversation started at 23:30 UTC (08:30 the next day)
    put = api(
        ANALYTICS,
        "PUT",
        "/v1/analytics/settings",
        {"time_zone": "Asia/Tokyo"},
        caller=clinic.tenant.owner,
    )
    assert put.status == 200, put
    envelope = h.eventbridge_envelope(
        "ConversationStarted",
        tenant_id=clinic.tenant.id,
        occurred_at="2026-03-01T23:30:00.000000Z",
        source="agenthub.conversations",
        subject="conversation/cv_1",
        data={
            "agent_id": clinic.agent["id"],
            "conversation_id": "cv_1",
            "channel": "widget",
            "verified": False,
        },
    )
    assert h.invoke(CONSUMER, h.sqs_event([json.dumps(envelope)])) == {"batchItemFailures": []}

    # Then it counts on the 2nd of March
    series = read(
        clinic.tenant, clinic.agent["id"], "series", **{"from": "2026-03-01", "to": "2026-03-02"}
    )
    assert [d["counts"]["conversations"] for d in series.json["days"]] == [0, 1]
    assert series.json["time_zone"] == "Asia/Tokyo"


def test_an_unknown_time_zone_is_refused(aws: h.World, tenant: NewTenant):
    acme = tenant("Acme")
    bad = api(
        ANALYTICS, "PUT", "/v1/analytics/settings", {"time_zone": "Mars/Olympus"}, caller=acme.owner
    )
    assert bad.status == 422


def test_a_redelivered_event_is_counted_once(aws: h.World, clinic: Clinic):
    clinic.begin()
    h.relay_outbox(aws.table_name)
    messages = h.take_messages(str(aws.ref("AnalyticsEventsQueue")))
    event = h.sqs_event_from_messages(messages)
    h.invoke(CONSUMER, event)
    h.invoke(CONSUMER, event)
    series = read(clinic.tenant, clinic.agent["id"], "series", **{"from": today(), "to": today()})
    assert series.json["days"][0]["counts"]["conversations"] == 1


def test_a_poison_message_fails_alone_and_its_neighbour_is_counted(aws: h.World, clinic: Clinic):
    clinic.begin()
    h.relay_outbox(aws.table_name)
    [good] = h.take_messages(str(aws.ref("AnalyticsEventsQueue")))
    event = h.sqs_event(["{}", good["Body"]], message_ids=["poison", "good"])
    assert h.invoke(CONSUMER, event) == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    series = read(clinic.tenant, clinic.agent["id"], "series", **{"from": today(), "to": today()})
    assert series.json["days"][0]["counts"]["conversations"] == 1


@pytest.mark.parametrize("what", ["series", "report", "export"])
def test_another_tenants_agent_is_not_found(visited: Clinic, tenant: NewTenant, what: str):
    other = tenant("Other")
    assert read(other, visited.agent["id"], what).status == 404


@pytest.mark.parametrize(
    ("start", "end"),
    [("2025-02-01", "2025-01-01"), ("2024-01-01", "2025-06-01"), ("yesterday", "")],
)
def test_a_bad_range_is_a_400(clinic: Clinic, start: str, end: str):
    query = {"from": start, **({"to": end} if end else {})}
    response = read(clinic.tenant, clinic.agent["id"], "series", **query)
    assert response.status == 400 and response.error_code == "bad_request"


def test_a_five_year_export_streams_every_day_from_paged_reads(
    aws: h.World, clinic: Clinic, aws_calls: h.CallLog
):
    # Given five years (the export's limit) with a conversation every 10th day, and revenue
    # in two currencies on two days
    from datetime import date, timedelta

    from analytics.dal.repository import DAYS_PAGE
    from analytics.models import MAX_EXPORT_DAYS

    agent = clinic.agent["id"]
    first = date(2021, 1, 1)
    last = first + timedelta(days=MAX_EXPORT_DAYS - 1)
    busy = [first + timedelta(days=n) for n in range(0, MAX_EXPORT_DAYS, 10)]

    def envelope(kind: str, day: date, **data: Any) -> str:
        at = f"{day.isoformat()}T12:00:00.000000Z"
        body = h.eventbridge_envelope(
            kind, tenant_id=clinic.tenant.id, occurred_at=at, data={"agent_id": agent, **data}
        )
        return json.dumps(body)

    bodies = [envelope("ConversationStarted", day) for day in busy]
    bodies += [
        envelope("PaymentSucceeded", busy[3], amount_minor=1200, currency="EUR"),
        envelope("PaymentSucceeded", busy[-1], amount_minor=900, currency="usd"),
    ]
    for start in range(0, len(bodies), 10):
        assert h.invoke(CONSUMER, h.sqs_event(bodies[start : start + 10])) == {
            "batchItemFailures": []
        }

    # When the tenant exports the whole range
    aws_calls.clear()
    query = {"from": first.isoformat(), "to": last.isoformat()}
    response = read(clinic.tenant, agent, "export", **query)

    # Then every day is a line, zeros where nothing happened, a column per currency
    assert response.status == 200, response
    rows = list(csv.DictReader(io.StringIO(response.body)))
    assert len(rows) == MAX_EXPORT_DAYS
    assert [r["day"] for r in rows[:2]] == ["2021-01-01", "2021-01-02"]
    assert rows[-1]["day"] == last.isoformat()
    assert sum(int(r["conversations"]) for r in rows) == len(busy)
    assert {r["day"] for r in rows if r["conversations"] == "1"} == {d.isoformat() for d in busy}
    by_day = {r["day"]: r for r in rows}
    assert by_day[busy[3].isoformat()]["revenue_minor_eur"] == "1200"
    assert by_day[busy[-1].isoformat()]["revenue_minor_usd"] == "900"
    assert by_day["2021-01-02"]["revenue_minor_usd"] == "0"
    # And the reads came in pages of DAYS_PAGE items (two passes: currencies, then lines)
    items = len(busy) + 2
    pages = -(-items // DAYS_PAGE)
    assert aws_calls.of("dynamodb").count("Query") >= 2 * pages > 2
    # The JSON routes keep their one-year limit
    assert read(clinic.tenant, agent, "series", **query).status == 400


def test_cost_per_conversation_is_tokens_times_the_configured_prices(aws: h.World, clinic: Clinic):
    agent = clinic.agent["id"]
    day = "2026-02-10"

    def deliver(kind: str, **data: Any) -> None:
        envelope = h.eventbridge_envelope(
            kind,
            tenant_id=clinic.tenant.id,
            occurred_at=f"{day}T09:00:00.000000Z",
            source="agenthub.conversations",
            data={"agent_id": agent, **data},
        )
        assert h.invoke(CONSUMER, h.sqs_event([json.dumps(envelope)])) == {"batchItemFailures": []}

    def answer(model: str, tokens_in: int, tokens_out: int) -> None:
        deliver(
            "MessageAnswered",
            model=model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            abstained=False,
        )

    # Given two conversations: answers by Nova Lite (the seeded price: $0.06 / $0.24 per
    # million tokens), through a cross-region profile, and by a model the table does not list
    deliver("ConversationStarted")
    deliver("ConversationStarted")
    answer("amazon.nova-lite-v1:0", 1000, 500)  # 60 + 120 millionths of a dollar
    answer("us.amazon.nova-lite-v1:0", 2000, 0)  # 120
    answer("someone.unknown-model-v9", 5000, 5000)

    # Then the report counts the cost in money, per conversation, and says what it is based on
    query = {"from": day, "to": day}
    report = read(clinic.tenant, agent, "report", **query).json
    assert report["cost"]["total_micros"] == 300
    assert report["cost"]["per_conversation_micros"] == 150
    assert report["cost_per_conversation_micros"] == 150
    assert report["cost"]["unpriced_messages"] == 1
    assert report["cost"]["currency"] == "usd"
    assert "configuration" in report["cost"]["prices"] and "not fetched" in report["cost"]["prices"]
    series = read(clinic.tenant, agent, "series", **query).json
    assert series["days"][0]["counts"]["cost_micros"] == 300

    # When an operator edits the model's price in the table (prices are data, not code)
    ddb = h.aws_client("dynamodb")
    ddb.update_item(
        TableName=h.world().table_name,
        Key={"pk": {"S": "MODELPRICES"}, "sk": {"S": "MODEL#amazon.nova-lite-v1:0"}},
        UpdateExpression="SET input_micros_per_1k = :p",
        ExpressionAttributeValues={":p": {"N": "1000"}},
    )
    from agenthub import environment

    environment.reset()  # every environment's price cache ages out within a minute
    answer("amazon.nova-lite-v1:0", 1000, 0)

    # Then answers counted from then on use it; what was counted keeps its cost
    fresh = read(clinic.tenant, agent, "series", **query)
    assert fresh.json["days"][0]["counts"]["cost_micros"] == 300 + 1000


def test_the_rollup_reads_one_questions_partition_whatever_the_number_of_conversations(
    aws: h.World, visited: Clinic, aws_calls: h.CallLog
):
    # Given the consumer filed each answered question under the agent's day as it counted it
    h.invoke(ROLLUP, {"days": [today()]})
    aws_calls.clear()
    h.invoke(ROLLUP, {"days": [today()]})
    one_conversation = list(aws_calls.calls)

    # When three more visitors ask, and the day is rolled up again
    for text in ("Do you sell bicycles?", "Is there parking?", "Do you sell bicycles?"):
        conversation, token = visited.begin()
        visited.answer(conversation, token, text)
    count_events(aws)
    aws_calls.clear()
    h.invoke(ROLLUP, {"days": [today()]})

    # Then the job made the same calls as for one conversation (no read per conversation)
    assert aws_calls.calls == one_conversation
    assert "GetItem" not in aws_calls.of("dynamodb")
    report = read(visited.tenant, visited.agent["id"], "report", **{"from": today(), "to": today()})
    top = {q["question"]: q["count"] for q in report.json["top_questions"]}
    assert top["Do you sell bicycles?"] == 4 and top["Is there parking?"] == 1
