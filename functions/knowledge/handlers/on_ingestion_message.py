"""SQS consumer of the ingestion queue: S3 upload notifications and queued sources.

Each record is one work item (partial batch failures: only failed records return to the
queue, and after ``maxReceiveCount`` they go to the DLQ — the document is marked failed on
that last attempt, so nothing is stuck in "processing" silently). After the records, each
agent touched gets one index rebuild; if that rebuild fails, the records of that agent are
reported failed too, so their work is redone.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import init_function
from agenthub.settings import BaseSettings
from knowledge.logic import ingestion


class IngestionSettings(BaseSettings):
    documents_bucket: str = Field(min_length=3)
    ingestion_max_receives: int = Field(ge=1)
    embedding_provider: Literal["none", "bedrock"] = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = Field(default=512)
    allow_private_urls: bool = False


def _config(settings: IngestionSettings) -> ingestion.WorkerConfig:
    return ingestion.WorkerConfig(
        bucket=settings.documents_bucket,
        max_receives=settings.ingestion_max_receives,
        embedding_provider=settings.embedding_provider,
        embedding_model=settings.embedding_model,
        embedding_dimensions=settings.embedding_dimensions,
        allow_private_urls=settings.allow_private_urls,
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = init_function(IngestionSettings)
    config = _config(settings)
    outcome = ingestion.Outcome()
    agents_of: dict[str, set[tuple[str, str]]] = {}

    def record_handler(record: Any) -> None:
        items = ingestion.messages_of(json.loads(record.body))
        receive_count = int(record.attributes.approximate_receive_count or 1)
        agents_of[record.message_id] = {(i["tenant_id"], i["agent_id"]) for i in items}
        for item in items:
            ingestion.ingest(item, config, outcome, receive_count)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(records=event.get("Records", []), handler=record_handler):
        processor.process()
    response = processor.response()

    failed_agents = set()
    for agent in sorted(outcome.rebuild):
        single = ingestion.Outcome(rebuild={agent}, pending={agent: outcome.pending.get(agent, [])})
        try:
            ingestion.finish(single, config)
        except Exception:
            logger().exception("index rebuild failed", extra={"agent_id": agent[1]})
            failed_agents.add(agent)
    if failed_agents:
        failures = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message_id, agents in agents_of.items():
            if agents & failed_agents and message_id not in failures:
                response["batchItemFailures"].append({"itemIdentifier": message_id})
    return response
