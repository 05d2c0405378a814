"""The answer cache: L1 per warm environment, L2 shared: by default a DynamoDB item with a
1-hour TTL (read in the message's BatchGetItem, written in its transaction: no call of its
own); with the optional shared cache (SHARED_CACHE_ENDPOINT, memcached) the L2 is memcached
instead and the item is neither read nor written (see ``make bench --only cache``).

An entry is keyed by the agent, the knowledge index version, the agent's version (its model,
instructions and temperature shape the answer), the code that answers (`code_fingerprint`:
the answer path and knowledge's search) and the normalized question. A re-indexed knowledge
base, an edited agent or a deploy that changes how questions are answered (a refitted
answerability judge) therefore has new keys: a stale answer is never served, and old entries
simply expire. An entry also records the search query it was answered from; a
follow-up whose history folds a different topic into the search does not reuse it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from pathlib import Path

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


FUNCTIONS = Path(__file__).resolve().parents[2]
# What turns a question into an answer: the answer path (judge, extractive answerer, prompt,
# citations, providers) and knowledge's search. Ingestion lives in knowledge/logic too; a
# deploy that only changes it also renews the keys, which costs at most an hour of misses.
ANSWER_CODE = (
    "conversations/logic/answering.py",
    "conversations/logic/_answer_*.py",
    "conversations/logic/providers.py",
    "knowledge/logic/*.py",
)


def fingerprint(root: Path) -> str:
    """A digest of the ANSWER_CODE source files under `root` (path and content)."""
    h = hashlib.sha256()
    for path in sorted({p for pattern in ANSWER_CODE for p in root.glob(pattern)}):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@cache
def code_fingerprint() -> str:
    """This deployment's answer code, read once per environment (about 3 ms)."""
    return fingerprint(FUNCTIONS)


def digest(index_version: int, agent_version: int, question: str, page: str = "") -> str:
    """``page``: the visitor's page context as the answer sees it ("" when it cannot change
    the answer: the extractive answerer does not read it)."""
    material = (
        f"v1|code={code_fingerprint()}|index={index_version}|agent={agent_version}"
        f"|{normalize(question)}"
    )
    if page:
        material += f"|page={page}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


def usable(entry: CachedAnswer | None, search_query: str) -> CachedAnswer | None:
    """The entry, when it was answered from the same search (see the module docstring)."""
    if entry is None or normalize(entry.search_query) != normalize(search_query):
        return None
    return entry
