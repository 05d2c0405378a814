from agenthub.cache import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entry_is_served_until_its_ttl_then_expires():
    # Given a cache with a 30 s TTL and a controllable clock
    clock = FakeClock()
    cache: TTLCache[str] = TTLCache(30, clock=clock)
    cache.set("k", "v")
    # When time advances to just before, then to the TTL
    clock.now += 29.9
    before = cache.get("k")
    clock.now += 0.1
    after = cache.get("k")
    # Then the entry is served before and gone at expiry
    assert before == "v"
    assert after is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_least_recently_used_entry_is_evicted_when_full():
    cache: TTLCache[int] = TTLCache(60, max_entries=2)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")  # a is now the most recently used
    cache.set("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3


def test_get_or_load_loads_once_and_invalidate_forces_reload():
    cache: TTLCache[int] = TTLCache(60)
    calls = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_load("k", load) == 1
    assert cache.get_or_load("k", load) == 1
    cache.invalidate("k")
    assert cache.get_or_load("k", load) == 2


def test_per_entry_ttl_overrides_default():
    clock = FakeClock()
    cache: TTLCache[str] = TTLCache(300, clock=clock)
    cache.set("short", "v", ttl_seconds=5)
    clock.now += 6
    assert cache.get("short") is None
