"""The answer cache: L1 per warm environment, L2 shared: by default a DynamoDB item with a
1-hour TTL (read in the message's BatchGetItem, written in its transaction: no call of its
own); with the optional shared cache (SHARED_CACHE_ENDPOINT, memcached) the L2 is memcached
instead and the item is neither read nor written (see ``make bench --only cache``).

An entry is keyed by the agent, the knowledge index version, the agent's version (its model,
instructions and temperature shape the answer) and the normalized question. A re-indexed
knowledge base or an edited agent therefore has new keys: a stale answer is never served, and
old entries simply expire. An entry also records the search query it was answered from; a
follow-up whose history folds a different topic into the search does not reuse it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.shared_cache import TieredCache, pydantic_codec
from conversations.models import CachedAnswer

TTL_SECONDS = 3600
_cache: TTLCache[CachedAnswer] = ttl_cache(TTL_SECONDS, max_entries=4096)
_tiered: TieredCache[CachedAnswer] = TieredCache(
    _cache, "answer", ttl_seconds=TTL_SECONDS, **pydantic_codec(CachedAnswer)
)
_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.,;:\u00bf\u00a1\u3002\uff1f\uff01]+$")


def local() -> TTLCache[CachedAnswer]:
    return _cache


def tiered() -> TieredCache[CachedAnswer]:
    """L1, then memcached when the shared cache is configured."""
    return _tiered


def normalize(text: str) -> str:
    """One form for questions that differ only in case, width, spacing or final punctuation
    ("What are your hours?" == "what are your  hours")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACE.sub(" ", folded).strip())


def digest(index_version: int, agent_version: int, question: str) -> str:
    material = f"v1|index={index_version}|agent={agent_version}|{normalize(question)}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


def usable(entry: CachedAnswer | None, search_query: str) -> CachedAnswer | None:
    """The entry, when it was answered from the same search (see the module docstring)."""
    if entry is None or normalize(entry.search_query) != normalize(search_query):
        return None
    return entry
