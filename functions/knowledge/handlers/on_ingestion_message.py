"""SQS consumer of the ingestion queue: S3 upload notifications and queued sources.

Each record is one work item (partial batch failures: only failed records return to the
queue, and after ``maxReceiveCount`` they go to the DLQ — the document is marked failed on
that last attempt, so nothing is stuck in "processing" silently). After the records, each
agent touched notes its changes for its next coalesced build, and the builds scheduled into
the batch (``reindex`` messages) run; if either fails, the records of that agent are reported
failed too, so their work is redone.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from pydantic import Field

from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from knowledge.logic import ingestion


class IngestionSettings(BaseSettings):
    documents_bucket: str = Field(min_length=3)
    ingestion_queue_url: str = Field(min_length=1)  # where the scheduled builds go
    ingestion_max_receives: int = Field(ge=1)
    embedding_provider: Literal["none", "bedrock"] = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = Field(default=512)
    allow_private_urls: bool = False


def _config(settings: IngestionSettings) -> ingestion.WorkerConfig:
    return ingestion.WorkerConfig(
        bucket=settings.documents_bucket,
        queue_url=settings.ingestion_queue_url,
        max_receives=settings.ingestion_max_receives,
        embedding_provider=settings.embedding_provider,
        embedding_model=settings.embedding_model,
        embedding_dimensions=settings.embedding_dimensions,
        allow_private_urls=settings.allow_private_urls,
    )


@entry(IngestionSettings)
def handler(event: dict[str, Any], context: Any, settings: IngestionSettings) -> dict[str, Any]:
    batch = ingestion.Batch(_config(settings))

    def record_handler(record: Any) -> None:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        batch.add(record.message_id, record.body, receive_count)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(records=event.get("Records", []), handler=record_handler):
        processor.process()
    response: dict[str, Any] = dict(processor.response())
    failures = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    for message_id in batch.finish():
        if message_id not in failures:
            response["batchItemFailures"].append({"itemIdentifier": message_id})
    return response
