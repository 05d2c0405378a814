"""Knowledge's public logic functions: what other domains may call, in process
(conversations searches; scheduling imports busy times through the SSRF-safe fetcher)."""

from knowledge.logic.fetch import FetchLimits, UrlRejected, fetch_url
from knowledge.logic.housekeeping import collect_garbage
from knowledge.logic.links import source_link
from knowledge.logic.query import content_terms, question_focus
from knowledge.logic.retrieval import SearchResult, embedder, index_version, search
from knowledge.logic.sources import forget_agent
from knowledge.logic.types import SearchHit

__all__ = [
    "FetchLimits",
    "SearchHit",
    "SearchResult",
    "UrlRejected",
    "collect_garbage",
    "content_terms",
    "embedder",
    "fetch_url",
    "forget_agent",
    "index_version",
    "question_focus",
    "search",
    "source_link",
]
