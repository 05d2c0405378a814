"""The wish to book, read from a visitor's message (scheduling's offer decides on it before
any read): the widget's languages, and questions about hours or a schedule that are not one."""

from __future__ import annotations

import pytest

from scheduling.logic import wants_booking


@pytest.mark.parametrize(
    "text",
    [
        "Can I book an appointment?",
        "I'd like to schedule a call with someone",
        "booking for two on friday please",
        "Do you take reservations?",
        "Ich möchte einen Termin",
        "Kann ich online buchen?",
        "Quiero una cita",
        "¿Puedo reservar para mañana?",
        "Je voudrais prendre rendez-vous",
        "Puis-je réserver ?",
        "Quero marcar uma consulta",
        "أريد حجز موعد",
    ],
)
def test_a_wish_to_book_is_recognised(text: str) -> None:
    assert wants_booking(text)


@pytest.mark.parametrize(
    "text",
    [
        "What is your schedule on Saturday?",
        "Are you open on Sunday?",
        "Which payment methods do you accept?",
        "Do you have a facebook page?",  # "book" inside a word is not a wish
        "What's on the scheduled maintenance list?",
    ],
)
def test_a_question_that_is_no_wish_to_book_is_not_taken_for_one(text: str) -> None:
    assert not wants_booking(text)
