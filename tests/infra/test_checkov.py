"""checkov finds nothing on template.yaml: what matters is fixed (WAF on the API, access logs
of the buckets and the distribution, reserved concurrency of the public function), the rest
is suppressed with a reason (on the resource, or platform-wide in infra/checkov.yaml)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from tests.infra.helpers import ROOT

CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"


def test_checkov_reports_no_failed_check_on_the_template() -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make setup` (infra/scripts/setup.sh)")
    done = subprocess.run(
        [str(CHECKOV), "-f", "template.yaml", "--config-file", "infra/checkov.yaml", "-o", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [
        f"{f['check_id']} {f['resource']}: {f['check_name']}"
        for f in report["results"].get("failed_checks", [])
    ]
    assert failed == [], "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0


def test_every_in_place_suppression_gives_a_reason(template: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert len(str(skip.get("comment", ""))) > 20, (name, skip)


def test_queues_are_encrypted_although_checkov_looks_only_for_kms(
    template: dict[str, Any],
) -> None:
    queues = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    assert queues
    for name, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name


def test_platform_wide_skips_are_the_reviewed_ones() -> None:
    config = yaml.safe_load((ROOT / "infra" / "checkov.yaml").read_text())
    assert set(config["skip-check"]) == {
        "CKV_AWS_117",
        "CKV_AWS_116",
        "CKV_AWS_173",
        "CKV_AWS_115",
        "CKV_AWS_158",
        "CKV_AWS_149",
        "CKV_AWS_119",
        "CKV_AWS_26",
        "CKV_AWS_27",
    }
