"""The optional shared L2 cache (memcached) behind the cache interface, against a real
memcached from Debian: agent configs and answers reach a cold environment from it, writes
replace it, a memcached that is down is only a miss, and without it nothing changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agenthub.cache import TTLCache
from agenthub.shared_cache import Memcached, TieredCache, reset_shared_cache
from tests.integration import harness as h
from tests.integration.harness import AGENTS, api
from tests.integration.test_conversations import CONVERSATIONS, Clinic, make_clinic
from tests.support.memcached import free_port, running_memcached


@pytest.fixture(scope="module")
def memcached() -> Iterator[str]:
    with running_memcached() as endpoint:
        yield endpoint


@pytest.fixture
def shared(memcached: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Memcached]:
    """The functions configured with the shared cache (as SharedCache=enabled does)."""
    monkeypatch.setenv("SHARED_CACHE_ENDPOINT", memcached)
    monkeypatch.setenv("SHARED_CACHE_TLS", "false")  # Debian's memcached speaks plain TCP
    reset_shared_cache()
    from agenthub.shared_cache import shared_cache

    client = shared_cache()
    assert client is not None
    client._client.flush_all()
    yield client
    monkeypatch.delenv("SHARED_CACHE_ENDPOINT")
    reset_shared_cache()


def _cold_l1() -> None:
    """Another environment: empty L1 caches (the shared cache is not per environment)."""
    from agenthub import environment

    environment.reset()


def _tiered(namespace: str = "test") -> TieredCache[str]:
    return TieredCache(
        TTLCache(60), namespace, encode=str.encode, decode=bytes.decode, ttl_seconds=60
    )


def test_a_value_set_in_one_environment_is_read_by_another(shared: Memcached) -> None:
    # Given a value cached by one environment
    writer, reader = _tiered(), _tiered()
    writer.set(("tenant", "x"), "hello")
    # When another environment (its own empty L1) asks, it gets it from memcached
    assert reader.get(("tenant", "x")) == "hello"
    assert (reader.shared_hits, reader.shared_misses) == (1, 0)
    # And then from its own L1
    assert reader.local.get(("tenant", "x")) == "hello"
    # When the writer invalidates it, it is gone from memcached for everyone else
    writer.invalidate(("tenant", "x"))
    assert _tiered().get(("tenant", "x")) is None


def test_namespaces_do_not_share_keys(shared: Memcached) -> None:
    _tiered("agent").set(("t", "1"), "an agent")
    assert _tiered("answer").get(("t", "1")) is None


def test_a_memcached_that_is_down_is_a_miss_never_an_error() -> None:
    # Given a client pointed at a port where nothing listens
    down = Memcached("127.0.0.1", free_port())
    cache = TieredCache(
        TTLCache(60),
        "test",
        encode=str.encode,
        decode=bytes.decode,
        ttl_seconds=60,
        shared=lambda: down,
    )
    # When it is used, then every operation degrades to L1
    cache.set(("k",), "v")
    cache.local.clear()
    assert cache.get(("k",)) is None
    cache.invalidate(("k",))
    assert down.failures == 3


def test_without_an_endpoint_the_client_library_is_never_imported() -> None:
    # The default (SharedCache=disabled): a function's cold start pays nothing for it
    code = (
        "import sys; from agents.logic import service; from conversations.logic import messages;"
        "print('pymemcache' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "functions:layers/shared/python:.", "PATH": ""},
        cwd=h.ROOT,
    )
    assert done.stdout.strip() == "False"


def test_a_cold_environment_reads_the_agent_from_memcached(
    shared: Memcached, tenant: Any, aws_calls: h.CallLog
) -> None:
    # Given an agent read once (so cached in L1 and memcached)
    acme = tenant()
    agent = acme.agent()
    path = f"/v1/agents/{agent['id']}"
    assert api(AGENTS, "GET", path, caller=acme.owner).status == 200
    # When another environment reads it
    _cold_l1()
    aws_calls.clear()
    response = api(AGENTS, "GET", path, caller=acme.owner)
    # Then it comes from memcached: no GetItem
    assert response.status == 200 and response.json["name"] == agent["name"]
    assert aws_calls.of("dynamodb") == []
    # And an update replaces the shared copy at once: a cold environment sees the new name
    updated = api(AGENTS, "PATCH", path, {"name": "Renamed", "version": 1}, caller=acme.owner)
    assert updated.status == 200, updated
    _cold_l1()
    assert api(AGENTS, "GET", path, caller=acme.owner).json["name"] == "Renamed"


def test_answers_are_shared_through_memcached_instead_of_the_table(
    shared: Memcached, aws: h.World, tenant: Any, aws_calls: h.CallLog
) -> None:
    clinic: Clinic = make_clinic(aws, tenant("Acme Dental"))

    def ask(conversation: tuple[str, str], text: str) -> dict[str, Any]:
        conversation_id, token = conversation
        response = api(
            CONVERSATIONS,
            "POST",
            f"{clinic.public}/{conversation_id}/messages",
            {"text": text, "visitor_token": token},
            caller=clinic.widget,
            headers={"Origin": h.ALLOWED_ORIGIN},
        )
        assert response.status == 201, response
        return dict(response.json["answer"])

    # Given a question answered in one environment
    first = ask(clinic.begin(), "Are you open on Saturday?")
    # When another (warm) environment, whose L1 does not have it, gets the same question
    other = clinic.begin()
    ask(other, "Do you accept bank transfers?")
    from conversations.logic import answer_cache

    answer_cache.local().clear()
    aws_calls.clear()
    second = ask(other, "Are you open on Saturday?")
    # Then the answer comes from memcached (a cache hit, no model call), with the same calls
    # as before (the message's read and write), and the table holds no cache item at all
    assert second["text"] == first["text"]
    assert aws_calls.of("dynamodb") == ["BatchGetItem", "TransactWriteItems"]
    assert clinic.read(other[0])["messages"][-1]["cached"] is True
    items = h.aws_client("dynamodb").scan(TableName=aws.table_name)["Items"]
    assert not [item for item in items if "#ANSWER#" in item["pk"]["S"]]
