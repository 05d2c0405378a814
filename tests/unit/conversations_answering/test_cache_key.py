"""The answer cache's key: a deploy that changes how questions are answered must not serve
answers made by the old code (they would keep, for an hour, a verdict the new judge reverses)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conversations.logic import answer_cache


@pytest.fixture
def functions_copy(tmp_path: Path) -> Path:
    for path in answer_cache.FUNCTIONS.glob("*/logic/*.py"):
        target = tmp_path / path.relative_to(answer_cache.FUNCTIONS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return tmp_path


def edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# changed\n")


def test_the_fingerprint_reads_the_answer_code_wherever_it_is_deployed(functions_copy):
    assert answer_cache.fingerprint(functions_copy) == answer_cache.code_fingerprint()


@pytest.mark.parametrize(
    "module",
    [
        "conversations/logic/_answer_judge.py",
        "conversations/logic/_answer_extractive.py",
        "conversations/logic/answering.py",
        "knowledge/logic/search_index.py",
    ],
)
def test_changing_the_answer_code_changes_the_fingerprint(functions_copy, module):
    before = answer_cache.fingerprint(functions_copy)
    edit(functions_copy / module)
    assert answer_cache.fingerprint(functions_copy) != before


def test_code_outside_the_answer_path_leaves_the_keys_alone(functions_copy):
    before = answer_cache.fingerprint(functions_copy)
    edit(functions_copy / "conversations/logic/handoff.py")
    edit(functions_copy / "scheduling/logic/slots.py")
    assert answer_cache.fingerprint(functions_copy) == before


def test_the_key_carries_the_fingerprint(monkeypatch):
    key = answer_cache.digest(3, 2, "When are you open?")
    assert answer_cache.digest(3, 2, "when are you open") == key  # normalized question
    monkeypatch.setattr(answer_cache, "code_fingerprint", lambda: "another deploy")
    assert answer_cache.digest(3, 2, "When are you open?") != key
