"""The sample events (``events/<domain>/*.json``) describe the API the template deploys.

They feed ``sam local invoke -e`` and the tests alike, so an event for a route
that no longer exists, or a route with no event, is drift like any other.
"""

from __future__ import annotations

import re

import pytest

from tests.infra.helpers import handler_module, project_template
from tests.support.events import EVENTS_DIR, load_event

API_EVENT_FILES = sorted(
    p.relative_to(EVENTS_DIR).with_suffix("").as_posix() for p in EVENTS_DIR.glob("*/api_*.json")
)


def _routes_by_domain() -> dict[tuple[str, str], str]:
    """``{(METHOD, path): domain of the function serving it}``."""
    routes = {}
    for properties in project_template().serverless().values():
        domain = handler_module(properties["Handler"]).split(".")[0]
        for event in (properties.get("Events") or {}).values():
            if event["Type"] == "Api":
                route = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                routes[route] = domain
    return routes


ROUTES = _routes_by_domain()


def test_there_are_api_events() -> None:
    assert API_EVENT_FILES, f"no events/<domain>/api_*.json under {EVENTS_DIR}"


@pytest.mark.parametrize("name", API_EVENT_FILES)
def test_api_event_targets_a_route_of_its_domain(name: str) -> None:
    # Given a REST (payload 1.0) sample event
    event = load_event(name)
    route = (event["httpMethod"], event["resource"])
    # Then the template has that route, served by the event's domain
    assert route in ROUTES, f"{name}: {route} is not a route of template.yaml"
    domain = name.split("/", maxsplit=1)[0]
    assert ROUTES[route] == domain, f"{name}: {route} is served by {ROUTES[route]}"
    # And its path parameters fill the route's placeholders
    placeholders = set(re.findall(r"{([^}+]+)\+?}", event["resource"]))
    assert set(event.get("pathParameters") or {}) == placeholders, name
    pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(event["resource"]))
    assert re.fullmatch(pattern, event["path"]), f"{name}: path {event['path']} != resource"


def test_every_route_has_a_sample_event() -> None:
    # Given every route of the template and every api_*.json event
    covered = set()
    for name in API_EVENT_FILES:
        event = load_event(name)
        covered.add((event["httpMethod"], event["resource"]))
    # Then each route can be invoked locally with a ready-made event
    missing = sorted(set(ROUTES) - covered)
    assert not missing, f"routes without an events/<domain>/api_*.json sample: {missing}"


def test_load_event_names_what_exists_when_a_name_is_wrong() -> None:
    # Given a name that does not exist, When it is loaded, Then the error lists real events
    with pytest.raises(FileNotFoundError, match=r"known: \["):
        load_event("nowhere/api_nothing")
