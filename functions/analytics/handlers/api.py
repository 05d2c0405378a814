"""Analytics REST API: an agent's daily series (JSON or CSV) and report over a date range,
and the tenant's analytics time zone."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    Caller,
    answers,
    api_handler,
    endpoint,
    json_response,
    make_resolver,
)
from analytics.logic import counters, reports
from analytics.models import AnalyticsSettings, AnalyticsSettingsUpdate, Report, Series

app = make_resolver()
# Private: another tenant's proxy must not keep it; 30 s like the server-side cache.
CACHE_CONTROL = "private, max-age=30"


def _range() -> tuple[str | None, str | None]:
    query = app.current_event
    return query.get_query_string_value("from"), query.get_query_string_value("to")


def _use_cache() -> bool:
    # A client that must see the latest counters says so.
    return "no-cache" not in (app.current_event.headers.get("cache-control") or "")


@app.get("/v1/analytics/agents/<agentId>/series", summary="Daily series", tags=["analytics"])
@answers(Series)
@endpoint(app, roles=ALL_ROLES)
def get_series(who: Caller, agentId: str):
    found = reports.agent_series(who.tenant_id, agentId, *_range(), use_cache=_use_cache())
    body = found.model_dump(mode="json")
    return json_response(app, body, headers={"Cache-Control": CACHE_CONTROL}, conditional=True)


@app.get("/v1/analytics/agents/<agentId>/export", summary="Daily series as CSV", tags=["analytics"])
@answers(media="text/csv")
@endpoint(app, roles=ALL_ROLES)
def export_series(who: Caller, agentId: str):
    # The lines come from a generator over paged reads; API Gateway's Lambda proxy
    # integration takes a whole body (at most 6 MB: five years are ~200 KB), so it is joined
    # here; a streaming integration would send the lines as they come.
    text = "".join(reports.agent_csv(who.tenant_id, agentId, *_range()))
    disposition = f'attachment; filename="agenthub-{agentId}.csv"'
    headers = {"Content-Disposition": disposition, "Cache-Control": CACHE_CONTROL}
    return Response(200, content_type="text/csv; charset=utf-8", body=text, headers=headers)


@app.get("/v1/analytics/agents/<agentId>/report", summary="Report of a range", tags=["analytics"])
@answers(Report)
@endpoint(app, roles=ALL_ROLES)
def get_report(who: Caller, agentId: str):
    found = reports.agent_report(who.tenant_id, agentId, *_range(), use_cache=_use_cache())
    body = found.model_dump(mode="json")
    return json_response(app, body, headers={"Cache-Control": CACHE_CONTROL}, conditional=True)


@app.get("/v1/analytics/settings", summary="The analytics time zone", tags=["analytics"])
@answers(AnalyticsSettings)
@endpoint(app, roles=ALL_ROLES)
def get_settings(who: Caller):
    return json_response(app, counters.tenant_settings(who.tenant_id).model_dump())


@app.put("/v1/analytics/settings", summary="Set the analytics time zone", tags=["analytics"])
@answers(AnalyticsSettings)
@endpoint(app, roles=MANAGERS, body=AnalyticsSettingsUpdate)
def put_settings(who: Caller, body: AnalyticsSettingsUpdate):
    found = counters.set_time_zone(who.tenant_id, body.time_zone)
    return json_response(app, found.model_dump())


handler = api_handler(app)
