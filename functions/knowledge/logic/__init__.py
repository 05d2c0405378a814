"""Knowledge's public logic functions: what other domains may call, in process."""

from knowledge.logic.links import source_link
from knowledge.logic.query import content_terms
from knowledge.logic.retrieval import SearchResult, embedder, index_version, search
from knowledge.logic.types import SearchHit

__all__ = [
    "SearchHit",
    "SearchResult",
    "content_terms",
    "embedder",
    "index_version",
    "search",
    "source_link",
]
