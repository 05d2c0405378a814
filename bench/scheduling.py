"""Scheduling figures (printed, never asserted):

- slots computation for a 30-day range, own CPU (no AWS: the pure availability code over a
  busy resource), p50/p99;
- booking create latency through the local gateway (authorizer, the scheduling function in a
  warm worker, moto), p50/p99, and the concurrency outcome of 50 simultaneous bookings of one
  slot through that gateway.

AWS calls per booking are counted by the integration test
``test_a_booking_costs_one_transaction_and_no_eventbridge_call`` (printed with ``-s``).
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The code under test lives where Lambda puts it: functions/ and the shared layer.
_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT / "layers" / "shared" / "python", _ROOT / "functions"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

ORIGIN = "https://clinic.example"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def slots_cpu(print_fn=print, rounds: int = 200) -> None:
    from scheduling.logic.availability import Occupancy, candidates
    from scheduling.models import Booking, EventType, Resource, WeeklySchedule

    day = {"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}
    weekly = WeeklySchedule.model_validate(
        {d: list(day) for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    stamp = "2031-01-01T00:00:00Z"
    resource = Resource(
        id="rs", tenant_id="t", name="r", time_zone="Europe/Berlin", weekly=weekly,
        created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    event_type = EventType(
        id="et", tenant_id="t", agent_id="a", resource_id="rs", name="n",
        duration_minutes=30, buffer_after_minutes=10, slot_interval_minutes=15,
        min_notice_minutes=60, horizon_days=90, daily_limit=12, created_at=stamp,
        updated_at=stamp,
    )  # fmt: skip
    start = datetime(2031, 3, 1, tzinfo=UTC)
    bookings = [
        Booking(
            id=f"bk_{n}",
            tenant_id="t",
            agent_id="a",
            event_type_id="et",
            resource_id="rs",
            status="confirmed",
            start=(s := start + timedelta(hours=7 + 5 * n)).isoformat(),
            end=(s + timedelta(minutes=30)).isoformat(),
            time_zone="UTC",
            visitor_name="v",
            visitor_email="v@example.com",
            buffer_after_minutes=10,
            created_at=stamp,
            updated_at=stamp,
        )
        for n in range(150)
    ]
    now = start - timedelta(days=1)
    timings = []
    found = []
    for _ in range(rounds):
        began = time.perf_counter()
        occupancy = Occupancy(bookings, [], now)
        found = candidates(resource, event_type, occupancy, start, start + timedelta(days=30), now)
        timings.append((time.perf_counter() - began) * 1000)
    p50, p99 = _percentiles(timings)
    print_fn("\n== Scheduling: slots for a 30-day range, own CPU ==")
    print_fn(
        f"{len(found)} slots, 150 bookings, 9 h/day in Europe/Berlin, 15-min grid: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({rounds} runs)"
    )


def gateway(print_fn=print, bookings: int = 40, racers: int = 50) -> None:
    import requests

    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    runtime = LocalRuntime(
        api_port=0, seed=False, log_dir=PROJECT_ROOT / ".local" / "logs" / "bench-scheduling"
    )
    runtime.start()
    try:
        api = runtime.api_url
        session = requests.Session()
        admin = {"Authorization": f"Bearer {runtime.admin_token}"}
        tenant = session.post(f"{api}/v1/tenants", json={"name": "Bench"}, headers=admin).json()
        owner = {"Authorization": f"Bearer {tenant['key']['secret']}"}
        agent = session.post(
            f"{api}/v1/agents", json={"name": "Desk", "allowed_origins": [ORIGIN]}, headers=owner
        ).json()
        weekly = {
            d: [{"start": "00:00", "end": "24:00"}]
            for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
        resource = session.post(
            f"{api}/v1/scheduling/resources",
            json={"name": "Chair", "time_zone": "UTC", "weekly": weekly},
            headers=owner,
        ).json()
        event_type = session.post(
            f"{api}/v1/scheduling/event-types",
            json={
                "agent_id": agent["id"],
                "resource_id": resource["id"],
                "name": "Visit",
                "duration_minutes": 30,
                "min_notice_minutes": 0,
            },
            headers=owner,
        ).json()
        first = (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )

        def book(start: datetime) -> int:
            body = {
                "event_type_id": event_type["id"],
                "start": start.isoformat(),
                "name": "Bench",
                "email": "bench@example.com",
            }
            return requests.post(
                f"{api}/v1/bookings", json=body, headers=owner, timeout=30
            ).status_code

        timings = []
        for n in range(bookings):
            began = time.perf_counter()
            status = book(first + timedelta(minutes=30 * n))
            timings.append((time.perf_counter() - began) * 1000)
            assert status == 201, status
        p50, p99 = _percentiles(timings[1:])
        print_fn("\n== Scheduling: booking create through the local gateway ==")
        print_fn(
            f"first (cold function) {timings[0]:.0f} ms; then p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"({bookings - 1} bookings, one client)"
        )
        contested = first + timedelta(days=1)
        with ThreadPoolExecutor(max_workers=racers) as pool:
            statuses = list(pool.map(lambda _: book(contested), range(racers)))
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        print_fn(f"{racers} simultaneous bookings of one slot through the gateway: {counts}")
    finally:
        runtime.stop()


def run(print_fn=print) -> None:
    slots_cpu(print_fn)
    gateway(print_fn)


if __name__ == "__main__":
    run()
