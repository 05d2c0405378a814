"""Knowledge REST API: an agent's sources (documents) and search."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from pydantic import Field

from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    WRITERS,
    Caller,
    answers,
    api_handler,
    endpoint,
    json_response,
    make_resolver,
    paginated,
)
from agenthub.settings import ApiSettings, load_settings
from agents.logic import get_agent
from knowledge.logic import embedder, imports, retrieval, source_link, sources
from knowledge.logic.types import SearchHit
from knowledge.models import (
    MAX_SOURCE_BODY_BYTES,
    TOO_LARGE_HINT,
    AddedSource,
    DeletedDocument,
    Document,
    DocumentView,
    ImportCreate,
    ImportJob,
    IndexView,
    NewFile,
    NewUpload,
    SearchRequest,
    SearchResults,
    SourceCreateBody,
)

app = make_resolver()


class KnowledgeSettings(ApiSettings):
    documents_bucket: str = Field(min_length=3)
    ingestion_queue_url: str = Field(min_length=1)
    embedding_provider: Literal["none", "bedrock"] = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = 512
    max_body_bytes: int = Field(default=MAX_SOURCE_BODY_BYTES, ge=1024)


def _settings() -> KnowledgeSettings:
    return load_settings(KnowledgeSettings)


def _places() -> sources.Places:
    settings = _settings()
    return sources.Places(bucket=settings.documents_bucket, queue_url=settings.ingestion_queue_url)


# What a document's answers leave out: what Document adds to DocumentView.
HIDDEN = frozenset(Document.model_fields) - frozenset(DocumentView.model_fields)


def _view(doc: Document) -> dict[str, Any]:
    return doc.model_dump(mode="json", exclude=set(HIDDEN))


def _import_view(job: ImportJob) -> dict[str, Any]:
    return job.model_dump(mode="json", exclude={"tenant_id"})


def _ticket(ticket: sources.UploadTicket) -> dict[str, Any]:
    return {
        "url": ticket.url,
        "method": ticket.method,
        "headers": ticket.headers,
        "expires_in": ticket.expires_in,
    }


@app.post("/v1/agents/<agentId>/documents", summary="Add a source", tags=["knowledge"])
@answers(AddedSource, status=202)
@endpoint(app, roles=WRITERS, body=SourceCreateBody)
def create_document(who: Caller, body: SourceCreateBody, agentId: str):
    doc, ticket = sources.create_source(
        who.tenant_id, agentId, body.source, Actor(**who.actor), _places()
    )
    data: dict[str, Any] = {"document": _view(doc)}
    if ticket is not None:
        data["upload"] = _ticket(ticket)
    return json_response(app, data, status=202)


@app.get("/v1/agents/<agentId>/documents", summary="List sources", tags=["knowledge"])
@answers(DocumentView, page=True)
@endpoint(app, roles=ALL_ROLES)
def list_documents(who: Caller, agentId: str):
    load = partial(sources.list_documents, who.tenant_id, agentId)
    return paginated(app, who, load, view=_view, limit=50)


@app.get(
    "/v1/agents/<agentId>/documents/<documentId>",
    summary="A source, with its status and progress",
    tags=["knowledge"],
)
@answers(DocumentView)
@endpoint(app, roles=ALL_ROLES)
def get_document(who: Caller, agentId: str, documentId: str):
    doc = sources.get_document(who.tenant_id, agentId, documentId)
    return json_response(app, _view(doc), conditional=True)


@app.delete(
    "/v1/agents/<agentId>/documents/<documentId>",
    summary="Delete a source (its chunks leave the index)",
    tags=["knowledge"],
)
@answers(DeletedDocument, status=202)
@endpoint(app, roles=WRITERS)
def delete_document(who: Caller, agentId: str, documentId: str):
    sources.delete_document(who.tenant_id, agentId, documentId, Actor(**who.actor), _places())
    return json_response(app, {"deleted": documentId}, status=202)


@app.post(
    "/v1/agents/<agentId>/documents/<documentId>/retry",
    summary="Process a failed (or re-read an indexed) source again",
    tags=["knowledge"],
)
@answers(DocumentView, status=202, key="document")
@endpoint(app, roles=WRITERS)
def retry_document(who: Caller, agentId: str, documentId: str):
    doc = sources.retry(who.tenant_id, agentId, documentId, _places())
    return json_response(app, {"document": _view(doc)}, status=202)


@app.post(
    "/v1/agents/<agentId>/documents/<documentId>/upload-url",
    summary="Upload a new file for an uploaded source (re-ingest)",
    tags=["knowledge"],
)
@answers(NewUpload)
@endpoint(app, roles=WRITERS, body=NewFile)
def new_upload_url(who: Caller, body: NewFile, agentId: str, documentId: str):
    doc, ticket = sources.new_upload_url(who.tenant_id, agentId, documentId, body.size, _places())
    return json_response(app, {"document": _view(doc), "upload": _ticket(ticket)})


@app.post(
    "/v1/agents/<agentId>/imports",
    summary="Import a site: the pages of a sitemap, or a crawl",
    tags=["knowledge"],
)
@answers(ImportJob, status=202, key="import", exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=ImportCreate)
def create_import(who: Caller, body: ImportCreate, agentId: str):
    job = imports.create_import(who.tenant_id, agentId, body, _places())
    return json_response(app, {"import": _import_view(job)}, status=202)


@app.get(
    "/v1/agents/<agentId>/imports/<importId>",
    summary="An import's progress",
    tags=["knowledge"],
)
@answers(ImportJob, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def get_import(who: Caller, agentId: str, importId: str):
    job = imports.get_import(who.tenant_id, agentId, importId)
    return json_response(app, _import_view(job))


@app.get("/v1/agents/<agentId>/index", summary="The live index version", tags=["knowledge"])
@answers(IndexView)
@endpoint(app, roles=ALL_ROLES)
def get_index(who: Caller, agentId: str):
    get_agent(who.tenant_id, agentId)
    pointer = retrieval.index_pointer(who.tenant_id, agentId, fresh=True)
    return json_response(app, retrieval.index_view(pointer))


@app.post("/v1/agents/<agentId>/search", summary="Search the agent's knowledge", tags=["knowledge"])
@answers(SearchResults)
@endpoint(app, roles=ALL_ROLES, body=SearchRequest)
def search(who: Caller, body: SearchRequest, agentId: str):
    get_agent(who.tenant_id, agentId)
    settings = _settings()
    bucket = settings.documents_bucket
    result = retrieval.search(
        who.tenant_id,
        agentId,
        body.query,
        k=body.k,
        filters=body.filters,
        bucket=bucket,
        embedder=embedder(
            settings.embedding_provider, settings.embedding_model, settings.embedding_dimensions
        ),
    )
    return json_response(
        app,
        {
            "index_version": result.index_version,
            "results": [
                _hit(hit, partial(source_link, who.tenant_id, agentId, bucket=bucket))
                for hit in result.hits
            ],
        },
    )


def _hit(hit: SearchHit, link: Callable[..., str | None]) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "score": round(float(hit.score), 6),
        # share (0-1) of the query's weighted terms found in this passage
        "coverage": round(float(hit.coverage), 4) if hit.coverage is not None else None,
        "chunk_id": chunk.chunk_id,
        "document_id": chunk.document_id,
        "title": chunk.title,
        "source_url": chunk.source_url,
        "file_name": chunk.file_name,
        # the page, or a signed link to the uploaded file valid for 5 minutes
        "link": link(chunk.document_id, source_url=chunk.source_url, file_name=chunk.file_name),
        "text": chunk.text,
        "location": {
            "heading_path": list(chunk.heading_path),
            "page_start": chunk.page_start,
            "page_end": chunk.page_end,
            "char_start": chunk.start,
            "char_end": chunk.end,
        },
        "tags": list(chunk.tags),
    }


handler = api_handler(app, KnowledgeSettings, too_large_hint=TOO_LARGE_HINT)
