"""Knowledge's public logic functions (the conversations domain calls search in process;
scheduling imports busy times through the SSRF-safe fetcher)."""

from knowledge.logic.fetch import FetchLimits, UrlRejected, fetch_url
from knowledge.logic.retrieval import SearchResult, search

__all__ = ["FetchLimits", "SearchResult", "UrlRejected", "fetch_url", "search"]
