"""Every success answer the integration tests see, checked against the OpenAPI document: its
status is one the route declares (``@answers``), its body matches the declared schema. The
document is the one the docs function serves, so a route whose answers drift from what it
declares fails the first test that calls it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator


@cache
def document() -> dict[str, Any]:
    from docs.handlers.api import openapi_json

    loaded: dict[str, Any] = json.loads(openapi_json(""))
    return loaded


def check(method: str, path: str, status: int, content_type: str | None, body: str) -> None:
    """Raise AssertionError when a 2xx answer of ``method path`` is not as documented."""
    if not 200 <= status < 300 or method == "OPTIONS":
        return
    operation = document()["paths"].get(path, {}).get(method.lower())
    if operation is None:  # the docs function's own routes (test_docs: every other is there)
        return
    where = f"{method} {path} answered {status}"
    documented = operation["responses"]
    assert str(status) in documented, f"{where}; documented: {sorted(documented)}"
    content = documented[str(status)].get("content")
    if content is None:
        assert not body, f"{where} with a body; documented without"
        return
    media = (content_type or "").split(";")[0].strip()
    assert media in content, f"{where} as {media}; documented: {sorted(content)}"
    if media != "application/json":
        return
    schema = {**content[media]["schema"], "components": document()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(json.loads(body)), key=str)
    assert not errors, f"{where}, not as documented: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )
