"""The shapes of answering, shared by `answering` and `providers` (kept apart so neither
imports the other at module level). Plain frozen dataclasses: the answer path stays light."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as the answerer sees it: its text and what a citation needs.

    score: the search score (comparable within one query only).
    coverage: share (0-1) of the query's weighted terms the chunk contains; None when the
    search did not measure it."""

    chunk_id: str
    document_id: str
    title: str
    text: str
    source_url: str | None
    file_name: str | None
    heading_path: tuple[str, ...]
    page_start: int | None
    score: float
    coverage: float | None
    proximity: float | None = None


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation, oldest first in a history."""

    role: Role
    text: str


@dataclass(frozen=True)
class AgentPersona:
    name: str
    instructions: str
    model: str
    temperature: float


@dataclass(frozen=True)
class Citation:
    """index: the number the answer text uses for it ("[1]"), 1-based, in order of first use."""

    index: int
    document_id: str
    chunk_id: str
    title: str
    source_url: str | None
    file_name: str | None
    heading_path: tuple[str, ...]
    page: int | None
    snippet: str = ""  # the sentence of the document the answer quotes or draws on


@dataclass(frozen=True)
class Answer:
    """text: what the visitor reads, with [n] markers matching `citations`.

    abstained: the knowledge base did not cover the question (no citations then).
    tokens_in/out: billed model tokens (0 when no model ran: extractive or weak retrieval).
    model: the model that wrote `text`; "none" when nothing was generated."""

    text: str
    citations: list[Citation]
    abstained: bool
    tokens_in: int
    tokens_out: int
    model: str


@dataclass(frozen=True)
class PromptMessage:
    role: Role
    text: str


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a provider may use. A chat model reads `system` then `messages` (the
    history window, then one user message quoting the documents and ending with the
    question); the extractive provider works on the structured fields instead.

    question: the visitor's message as asked. search_query: the standalone form used for
    retrieval (a follow-up folded with the earlier question it continues)."""

    system: tuple[str, ...]
    messages: tuple[PromptMessage, ...]
    temperature: float
    max_tokens: int
    question: str
    search_query: str
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class GenerationResult:
    """stop_reason: the provider's ("end_turn", "max_tokens", ...) or "no_answer".

    citations: when the provider knows what it quoted (the extractive one), the 0-based
    positions of the passages that `text`'s markers [1], [2], ... name, in that order; None
    when the markers must be read from the text (a chat model's)."""

    text: str
    tokens_in: int
    tokens_out: int
    stop_reason: str
    model: str
    citations: tuple[int, ...] | None = None
