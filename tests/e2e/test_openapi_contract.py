"""The API against its own OpenAPI document: schemathesis (its own venv, .venv-tools) fuzzes
every operation of /v1/openapi.json over HTTP against the local runtime, with a fixed seed
and a bounded number of examples, and finds no 5xx, no response outside its documented
schema and no undocumented status code.

Three callers: the seeded tenant's owner key on the secret-key routes, its publishable key
from an allowed Origin on the widget's routes, and the platform admin token on tenant
creation.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = ROOT / ".venv-tools" / "bin" / "schemathesis"
CHECKS = (
    "not_a_server_error,status_code_conformance,response_schema_conformance,"
    "content_type_conformance"
)
EXAMPLES = 5
SEED = 1


@pytest.fixture(scope="module")
def document(runtime: LocalRuntime, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with urllib.request.urlopen(f"{runtime.api_url}/v1/openapi.json", timeout=30) as answer:
        body = answer.read()
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_bytes(body)
    return path


def fuzz(runtime: LocalRuntime, document: Path, *args: str) -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is not installed: run `make setup` (infra/scripts/setup.sh)")
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            str(document),
            "--url",
            runtime.api_url,
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--no-color",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counted and int(counted[1]) > 0 and counted[1] == counted[2], done.stdout[-2000:]


def test_secret_key_routes_answer_as_documented(runtime, document):
    # a tenant of its own: the fuzzer's writes (disconnecting Stripe, changing the plan) must
    # not change the seeded tenant the other end-to-end tests use
    key = Api(runtime).new_tenant("Fuzzed Ltd").owner_key
    fuzz(
        runtime,
        document,
        "--header",
        f"Authorization: Bearer {key}",
        "--exclude-path-regex",
        "^/v1/(public/|tenants$)",
    )


def test_widget_routes_answer_as_documented(runtime, document):
    key = runtime.seed["publishable_key"]
    origin = runtime.seed["allowed_origins"][0]
    fuzz(
        runtime,
        document,
        "--header",
        f"Authorization: Bearer {key}",
        "--header",
        f"Origin: {origin}",
        "--include-path-regex",
        "^/v1/public/",
    )


def test_tenant_creation_answers_as_documented(runtime, document):
    fuzz(
        runtime,
        document,
        "--header",
        f"Authorization: Bearer {runtime.admin_token}",
        "--include-path",
        "/v1/tenants",
        "--include-method",
        "POST",
    )


def test_the_document_names_an_error_schema_for_every_error_status(document):
    spec = json.loads(document.read_text())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
