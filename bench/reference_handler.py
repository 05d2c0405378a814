"""The eager reference stack the cold-start figure is compared with: what a typical Lambda
handler imports and creates at module load (a boto3 client, a Powertools resolver with
validation, a pynamodb model, Tracer), serving the same GET of an agent."""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

tracer = Tracer()
logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
app = APIGatewayRestResolver(enable_validation=True)


class AgentItem(Model):
    class Meta:
        table_name = os.environ["TABLE_NAME"]

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    version = NumberAttribute()


class AgentOut(BaseModel):
    id: str
    name: str
    version: int


@app.get("/v1/agents/<agentId>")
def get_agent(agentId: str) -> AgentOut:
    tenant = app.current_event.request_context.authorizer.raw_event["tenantId"]
    item = AgentItem.get(f"TENANT#{tenant}", f"AGENT#{agentId}")
    return AgentOut(id=agentId, name=item.name, version=int(item.version))


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
