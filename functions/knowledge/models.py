"""Knowledge API and domain models: sources (documents) of an agent and search."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, HttpUrl, StringConstraints, field_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import StrictInput

SourceType = Literal["upload", "text", "url", "qa"]
Status = Literal["awaiting_upload", "queued", "processing", "indexed", "failed"]

UPLOAD_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".csv")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
MAX_QA_PAIRS = 500
MAX_TAGS = 10

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class ChunkingOptions(StrictInput):
    max_chars: int = Field(default=1200, ge=300, le=4000)
    overlap_chars: int = Field(default=150, ge=0, le=1000)


class SourceBase(StrictInput):
    title: str | None = Field(default=None, max_length=200)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    chunking: ChunkingOptions = Field(default_factory=ChunkingOptions)


class UploadSource(SourceBase):
    type: Literal["upload"]
    file_name: str = Field(min_length=1, max_length=200)
    size: int = Field(gt=0, le=MAX_UPLOAD_BYTES)

    @field_validator("file_name")
    @classmethod
    def _extension(cls, value: str) -> str:
        if "/" in value or "\\" in value or value.startswith("."):
            raise ValueError("file_name must be a plain file name")
        if not value.lower().endswith(UPLOAD_EXTENSIONS):
            raise ValueError(f"supported files: {', '.join(UPLOAD_EXTENSIONS)}")
        return value


class TextSource(SourceBase):
    type: Literal["text"]
    format: Literal["text", "markdown"] = "markdown"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class QAPair(StrictInput):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=5000)


class QASource(SourceBase):
    type: Literal["qa"]
    pairs: list[QAPair] = Field(min_length=1, max_length=MAX_QA_PAIRS)


class UrlSource(SourceBase):
    type: Literal["url"]
    url: HttpUrl

    @field_validator("url")
    @classmethod
    def _plain(cls, value: HttpUrl) -> HttpUrl:
        if value.username or value.password:
            raise ValueError("URLs with credentials are not accepted")
        return value


SourceCreate = Annotated[
    UploadSource | TextSource | QASource | UrlSource, Field(discriminator="type")
]


class SourceCreateBody(StrictInput):
    """POST body: one source (the discriminator ``type`` picks its shape)."""

    source: SourceCreate


class Failure(BaseModel):
    reason: str
    message: str


class Progress(BaseModel):
    chunks_done: int = 0
    chunks_total: int = 0


class Usage(BaseModel):
    pages: int = 0
    characters: int = 0
    chunks: int = 0
    embedding_tokens: int = 0
    stored_bytes: int = 0  # what the bucket keeps of it: the source and its chunks


class Document(BaseModel):
    id: str
    tenant_id: str
    agent_id: str
    type: SourceType
    title: str
    status: Status
    file_name: str | None = None
    source_url: str | None = None
    content_type: str | None = None
    size: int | None = None
    tags: list[str] = Field(default_factory=list)
    chunking: dict[str, int] = Field(default_factory=dict)
    content_hash: str | None = None
    indexed_hash: str | None = None
    failure: Failure | None = None
    progress: Progress = Field(default_factory=Progress)
    usage: Usage = Field(default_factory=Usage)
    attempts: int = 0
    version: int = 1
    created_at: str
    updated_at: str


class IndexPointer(BaseModel):
    """Which immutable index artifacts are live for an agent."""

    tenant_id: str
    agent_id: str
    version: int = 0
    prefix: str | None = None
    documents: int = 0
    chunks: int = 0
    embedding_model: str | None = None
    built_at: str | None = None


class SearchFilters(StrictInput):
    document_ids: list[str] | None = Field(default=None, max_length=100)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    source_types: list[SourceType] | None = None


class SearchRequest(StrictInput):
    query: str = Field(min_length=1, max_length=1000)
    k: int = Field(default=5, ge=1, le=50)
    filters: SearchFilters | None = None


class KnowledgeEvent(DomainEvent):
    source = "agenthub.knowledge"


class DocumentEventData(EventData):
    agent_id: str
    document_id: str


class DocumentCreatedData(DocumentEventData):
    type: SourceType


class DocumentIndexedData(DocumentEventData):
    index_version: int
    pages: int
    characters: int
    chunks: int
    embedding_tokens: int
    stored_bytes: int = 0  # bytes of the document kept in the bucket (source + chunks)


class DocumentDeletedData(DocumentEventData):
    stored_bytes: int = 0  # bytes the deletion frees (the document's last stored_bytes)


class DocumentFailedData(DocumentEventData):
    reason: str
    message: str


class DocumentCreated(KnowledgeEvent):
    detail_type = "DocumentCreated"
    data: DocumentCreatedData


class DocumentIndexed(KnowledgeEvent):
    detail_type = "DocumentIndexed"
    data: DocumentIndexedData


class DocumentFailed(KnowledgeEvent):
    detail_type = "DocumentFailed"
    data: DocumentFailedData


class DocumentDeleted(KnowledgeEvent):
    detail_type = "DocumentDeleted"
    data: DocumentDeletedData


class IngestionWorkItem(BaseModel):
    """One unit of work on the ingestion queue: process a document, or only rebuild the
    agent's index (``reindex``, after a delete). ``trigger`` is "upload" when the item comes
    from the bucket's notification of a new file."""

    action: Literal["ingest", "reindex"]
    tenant_id: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    document_id: str | None = None
    trigger: Literal["upload"] | None = None


class NewFile(StrictInput):
    size: int = Field(gt=0, le=MAX_UPLOAD_BYTES)
