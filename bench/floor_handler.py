"""The floor: the least any handler of ours can load and still serve the route — botocore
(every AWS call needs it), pydantic and the Powertools resolver — making the same GetItem.
Our functions are compared with it to show what our own code adds above the unavoidable."""

from __future__ import annotations

import os

import botocore.session
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

app = APIGatewayRestResolver()
_client = None


class AgentOut(BaseModel):
    id: str
    name: str


@app.get("/v1/agents/<agentId>")
def get_agent(agentId: str) -> dict:
    global _client  # noqa: PLW0603
    if _client is None:
        _client = botocore.session.get_session().create_client("dynamodb")
    tenant = app.current_event.request_context.authorizer.raw_event["tenantId"]
    item = _client.get_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": f"AGENT#{agentId}"}},
    )["Item"]
    return AgentOut(id=agentId, name=item["name"]["S"]).model_dump()


def handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
