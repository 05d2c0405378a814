"""Knowledge's public logic functions (the conversations domain calls search in process)."""

from knowledge.logic.retrieval import SearchResult, search

__all__ = ["SearchResult", "search"]
