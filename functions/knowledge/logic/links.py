"""Links a citation gives a reader: the page a URL source came from, or a short-lived signed
link to an uploaded file (signing is computed locally: no AWS call). Inline text and Q&A
sources have none."""

from __future__ import annotations

from knowledge.dal import repository
from knowledge.logic import storage

LINK_SECONDS = 300


def source_link(
    tenant_id: str,
    agent_id: str,
    document_id: str,
    *,
    source_url: str | None,
    file_name: str | None,
    bucket: str,
) -> str | None:
    if source_url:
        return source_url
    if not file_name:
        return None
    key = storage.upload_key(tenant_id, agent_id, document_id, file_name)
    return repository.presign_download(bucket, key, file_name, LINK_SECONDS)
