"""Billing REST API: plans, the tenant's billing account, usage and the invoice preview."""

from __future__ import annotations

from agenthub.events import Actor
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
from billing.logic import accounts, plans, statements
from billing.models import BillingAccount, BillingAccountUpdate, InvoicePreview, Plan, UsageSummary

app = make_resolver()


def _period() -> str | None:
    return app.current_event.get_query_string_value("period")


@app.get("/v1/billing/plans", summary="The plans a tenant can choose", tags=["billing"])
@answers(Plan, page=True, exclude={"version"})
@endpoint(app, roles=ALL_ROLES)
def list_plans(who: Caller):
    found = plans.all_plans().values()
    return json_response(app, {"items": [p.model_dump(exclude={"version"}) for p in found]})


@app.get("/v1/billing/account", summary="The tenant's plan and limits", tags=["billing"])
@answers(BillingAccount, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def get_account(who: Caller):
    account = accounts.get_account(who.tenant_id)
    return json_response(app, account.model_dump(exclude={"tenant_id"}))


@app.patch("/v1/billing/account", summary="Choose a plan, hard stop or overage", tags=["billing"])
@answers(BillingAccount, exclude={"tenant_id"})
@endpoint(app, roles=MANAGERS, body=BillingAccountUpdate)
def update_account(who: Caller, body: BillingAccountUpdate):
    account = accounts.update_account(who.tenant_id, body, Actor(**who.actor))
    return json_response(app, account.model_dump(exclude={"tenant_id"}))


@app.get("/v1/billing/usage", summary="Usage of a billing period", tags=["billing"])
@answers(UsageSummary)
@endpoint(app, roles=ALL_ROLES)
def get_usage(who: Caller):
    summary = statements.usage_summary(who.tenant_id, _period())
    return json_response(app, summary.model_dump(mode="json"))


@app.get("/v1/billing/usage/agents/<agentId>", summary="An agent's usage", tags=["billing"])
@answers(UsageSummary)
@endpoint(app, roles=ALL_ROLES)
def get_agent_usage(who: Caller, agentId: str):
    summary = statements.agent_usage(who.tenant_id, agentId, _period())
    return json_response(app, summary.model_dump(mode="json"))


@app.get("/v1/billing/invoice-preview", summary="The period's invoice so far", tags=["billing"])
@answers(InvoicePreview)
@endpoint(app, roles=MANAGERS)
def get_invoice_preview(who: Caller):
    preview = statements.invoice_preview(who.tenant_id, _period())
    return json_response(app, preview.model_dump(mode="json"))


handler = api_handler(app)
