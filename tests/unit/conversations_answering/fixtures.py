"""Hand-written passages, personas and fake providers for the answering tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations.logic.answering import (
    AgentPersona,
    GenerationRequest,
    GenerationResult,
    Passage,
)


def passage(
    chunk_id: str,
    text: str,
    *,
    title: str = "Handbook",
    headings: tuple[str, ...] = (),
    coverage: float | None = 0.8,
    score: float = 5.0,
    url: str | None = None,
    page: int | None = None,
) -> Passage:
    document_id = chunk_id.split(":", maxsplit=1)[0]
    return Passage(
        chunk_id=chunk_id,
        document_id=document_id,
        title=title,
        text=text,
        source_url=url,
        file_name=f"{document_id}.md",
        heading_path=headings,
        page_start=page,
        score=score,
        coverage=coverage,
    )


def shop_passages() -> list[Passage]:
    return [
        passage(
            "hours:0",
            "Opening hours\n\nOur store in Lyon is open Monday to Friday from 9:00 to 18:00. "
            "On Saturdays we open from 10:00 to 16:00. The store is closed on Sundays and "
            "public holidays.",
            title="Store hours",
            headings=("Store hours",),
            url="https://shop.example/hours",
        ),
        passage(
            "returns:0",
            "We accept returns within 30 days of delivery. Items must be unused and in their "
            "original packaging. Refunds go back to the original payment method within five "
            "business days.",
            title="Returns policy",
            headings=("Returns policy", "Time limits"),
            coverage=0.6,
            score=4.0,
        ),
        passage(
            "plans:0",
            "Plan: Basic; Price: 10 EUR per month; Seats: 1\n"
            "Plan: Pro; Price: 30 EUR per month; Seats: 5\n"
            "Plan: Team; Price: 90 EUR per month; Seats: 20",
            title="Pricing",
            headings=("Pricing", "Plans"),
            coverage=0.5,
            score=3.0,
            page=2,
        ),
    ]


PERSONA = AgentPersona(
    name="Ava",
    instructions="You are Ava, the friendly assistant of Lyon Outdoor. Answer in English.",
    model="extractive",
    temperature=0.3,
)


@dataclass
class ScriptedProvider:
    """Replies with fixed text and records what it was asked."""

    text: str
    model_id: str = "scripted-model"
    stop_reason: str = "end_turn"
    requests: list[GenerationRequest] = field(default_factory=list)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        return GenerationResult(self.text, 120, 30, self.stop_reason, self.model_id)


class ForbiddenProvider:
    """A paid provider that must not be called."""

    model_id = "paid-model"

    def generate(self, request: GenerationRequest) -> GenerationResult:
        raise AssertionError("the provider was called")
