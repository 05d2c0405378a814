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
# The documents API takes bodies up to 1 MiB, so a text source of MAX_TEXT_CHARS fits even
# in three-byte characters with JSON escapes; anything larger goes through an upload.
MAX_SOURCE_BODY_BYTES = 1024 * 1024
TOO_LARGE_HINT = (
    f"text sources take up to {MAX_TEXT_CHARS:,} characters in a body of at most "
    f"{MAX_SOURCE_BODY_BYTES // 1024 // 1024} MiB; send larger text as a file: a source of "
    f'type "upload" (.txt or .md, up to {MAX_UPLOAD_BYTES // 1024 // 1024} MiB) and PUT it to '
    "the returned URL"
)
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
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description=f"At most {MAX_TEXT_CHARS:,} characters; larger text: upload it as a file.",
    )


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


class DocumentView(BaseModel):
    """A document as the API shows it."""

    id: str
    agent_id: str
    type: SourceType
    title: str
    # True when the user named the document: the title is kept as given, even when it equals
    # the file name; otherwise the document's own title (first heading, <title>) replaces it.
    title_given: bool = False
    status: Status
    file_name: str | None = None
    source_url: str | None = None
    content_type: str | None = None
    size: int | None = None
    tags: list[str] = Field(default_factory=list)
    chunking: dict[str, int] = Field(default_factory=dict)
    failure: Failure | None = None
    progress: Progress = Field(default_factory=Progress)
    usage: Usage = Field(default_factory=Usage)
    attempts: int = 0
    # Set on documents a bulk import created; ``import_pending`` until the document first
    # settles (indexed or failed), when the import's counter moves in the same write.
    import_id: str | None = None
    version: int = 1
    created_at: str
    updated_at: str


class Document(DocumentView):
    """A document as stored: also its tenant, the hashes that tell a changed source from an
    indexed one, and whether its import still waits for it."""

    tenant_id: str
    content_hash: str | None = None
    indexed_hash: str | None = None
    import_pending: bool = False


class UploadTicketView(BaseModel):
    """Where and how to PUT the file (a presigned S3 URL)."""

    url: str
    method: str
    headers: dict[str, str]
    expires_in: int = Field(description="seconds the URL stays valid")


class AddedSource(BaseModel):
    document: DocumentView
    upload: UploadTicketView | None = Field(
        default=None, description="present for an uploaded file: where to PUT it"
    )


class NewUpload(BaseModel):
    document: DocumentView
    upload: UploadTicketView


class DeletedDocument(BaseModel):
    deleted: str = Field(description="the document id; its chunks leave the next index")


class IndexView(BaseModel):
    """The live index version, and whether a build is coming."""

    agent_id: str
    version: int
    documents: int
    chunks: int
    embedding_model: str | None
    built_at: str | None
    pending_changes: int
    build_scheduled: bool


class HitLocation(BaseModel):
    heading_path: list[str]
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int


class SearchResult(BaseModel):
    score: float
    coverage: float | None = Field(description="share (0-1) of the query's weighted terms found")
    chunk_id: str
    document_id: str
    title: str
    source_url: str | None
    file_name: str | None
    link: str | None = Field(description="the page, or a signed link to the file (5 minutes)")
    text: str
    location: HitLocation
    tags: list[str]


class SearchResults(BaseModel):
    index_version: int
    results: list[SearchResult]


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
    changes: int = 0  # noted by ingestion and deletes, ever
    built_changes: int = 0  # how many of them this version holds
    build_due_at: float | None = None  # the one scheduled build (epoch seconds)
    build_seconds: float | None = None  # how long the last build took

    @property
    def pending_changes(self) -> int:
        return max(0, self.changes - self.built_changes)


MAX_IMPORT_PAGES = 1000
MAX_IMPORT_DEPTH = 5


class ImportCreate(StrictInput):
    """A bulk import: the pages a sitemap lists, or a crawl from a start page (same host,
    under the start page's path). robots.txt is respected either way."""

    type: Literal["sitemap", "crawl"]
    url: HttpUrl
    max_pages: int = Field(default=100, ge=1, le=MAX_IMPORT_PAGES)
    max_depth: int = Field(
        default=2, ge=0, le=MAX_IMPORT_DEPTH, description="crawl: links followed from the start"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    chunking: ChunkingOptions = Field(default_factory=ChunkingOptions)

    @field_validator("url")
    @classmethod
    def _plain(cls, value: HttpUrl) -> HttpUrl:
        if value.username or value.password:
            raise ValueError("URLs with credentials are not accepted")
        return value


ImportStatus = Literal["queued", "discovering", "ingesting", "done", "failed"]


class ImportCounts(BaseModel):
    pages_found: int = 0  # pages the sitemap listed or the crawl reached
    documents: int = 0  # documents created
    skipped: int = 0  # over the limits, off-site, refused by robots.txt or unreadable
    indexed: int = 0  # documents indexed (first try)
    failed: int = 0  # documents failed (first try)


class ImportJob(BaseModel):
    id: str
    tenant_id: str
    agent_id: str
    type: Literal["sitemap", "crawl"]
    url: str
    max_pages: int
    max_depth: int
    tags: list[str] = Field(default_factory=list)
    chunking: dict[str, int] = Field(default_factory=dict)
    status: ImportStatus
    counts: ImportCounts = Field(default_factory=ImportCounts)
    failure: Failure | None = None
    created_at: str
    updated_at: str


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
    """One unit of work on the ingestion queue: process a document, run the agent's scheduled
    index build (``reindex``), or discover the pages of a bulk import (``import``)."""

    action: Literal["ingest", "reindex", "import"]
    tenant_id: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    document_id: str | None = None
    import_id: str | None = None
    # "upload": the bucket notified a new file; "import": a crawl stored the page already.
    trigger: Literal["upload", "import"] | None = None


class NewFile(StrictInput):
    size: int = Field(gt=0, le=MAX_UPLOAD_BYTES)
