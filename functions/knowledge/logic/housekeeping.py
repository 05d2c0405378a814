"""Housekeeping of the documents bucket (a scheduled job): old index versions and replaced
chunk artifacts go, the last two index versions of every agent stay.

- Index versions: every build writes a new immutable prefix (``index/<t>/<a>/v<n>/``) and
  swaps the pointer. The live version and the one before it are kept (a warm environment may
  still be reading the previous one for its 10-second pointer cache); anything newer than the
  live one is a build in flight and is never touched.
- Chunk artifacts: one per document content (``chunks/<t>/<a>/<d>/<hash>.json``). The one a
  document points at stays; others (a re-upload replaced them, or the document was deleted)
  go.
- Nothing younger than ``grace`` is deleted, whatever it is: a build or an ingestion that is
  writing right now has not swapped its pointer or document yet.

Walks the bucket by prefix (S3 listings, page by page), never scans the table: one pointer
read and one document query per agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from knowledge.dal import repository
from knowledge.logic import storage

KEEP_VERSIONS = 2
GRACE = timedelta(hours=1)


@dataclass
class Report:
    agents: int = 0
    index_objects_deleted: int = 0
    chunk_objects_deleted: int = 0
    kept_versions: dict[str, list[int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "agents": self.agents,
            "index_objects_deleted": self.index_objects_deleted,
            "chunk_objects_deleted": self.chunk_objects_deleted,
        }


def collect_garbage(
    bucket: str, now: datetime, *, keep_versions: int = KEEP_VERSIONS, grace: timedelta = GRACE
) -> Report:
    """Delete old index versions and replaced chunk artifacts of every agent (see above)."""
    if keep_versions < 1:
        raise ValueError("the live index version is always kept")
    report = Report()
    cutoff = now - grace
    for tenant_prefix in repository.child_prefixes(bucket, storage.INDEX_ROOT):
        for agent_prefix in repository.child_prefixes(bucket, tenant_prefix):
            agent = storage.agent_of_prefix(agent_prefix)
            if agent is not None:
                report.agents += 1
                _old_versions(bucket, agent, agent_prefix, keep_versions, cutoff, report)
    for tenant_prefix in repository.child_prefixes(bucket, storage.CHUNKS_ROOT):
        for agent_prefix in repository.child_prefixes(bucket, tenant_prefix):
            agent = storage.agent_of_prefix(agent_prefix)
            if agent is not None:
                _replaced_chunks(bucket, agent, agent_prefix, cutoff, report)
    return report


def _old_versions(
    bucket: str,
    agent: tuple[str, str],
    agent_prefix: str,
    keep_versions: int,
    cutoff: datetime,
    report: Report,
) -> None:
    live = repository.get_pointer(*agent).version
    versions = {
        version: prefix
        for prefix in repository.child_prefixes(bucket, agent_prefix)
        if (version := storage.index_version_of(prefix)) is not None
    }
    kept = [v for v in sorted(versions) if v <= live][-keep_versions:]
    report.kept_versions[f"{agent[0]}/{agent[1]}"] = kept
    doomed = [
        key
        for version, prefix in versions.items()
        if version < live and version not in kept
        for key, modified in repository.objects_under(bucket, prefix)
        if modified < cutoff
    ]
    report.index_objects_deleted += repository.delete_objects(bucket, doomed)


def _replaced_chunks(
    bucket: str, agent: tuple[str, str], agent_prefix: str, cutoff: datetime, report: Report
) -> None:
    in_use = repository.chunk_keys_in_use(*agent)
    doomed = [
        key
        for key, modified in repository.objects_under(bucket, agent_prefix)
        if key not in in_use and modified < cutoff
    ]
    report.chunk_objects_deleted += repository.delete_objects(bucket, doomed)
