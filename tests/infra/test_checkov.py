"""checkov finds nothing on template.yaml: what matters is fixed (WAF on the API, access logs
of the buckets and the distribution, reserved concurrency of the public function), the rest
is suppressed on its resource with a reason (by hand, or by `make ops-template` where the
reason follows from what the resource is); nothing is skipped platform-wide."""

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


def test_no_check_is_skipped_platform_wide() -> None:
    config = yaml.safe_load((ROOT / "infra" / "checkov.yaml").read_text())
    assert "skip-check" not in config and "check" not in config


def test_a_new_function_of_a_known_kind_gets_its_suppressions_and_an_unknown_kind_none() -> None:
    from infra.ops import suppressions

    def function(**props: Any) -> dict[str, Any]:
        return {"Type": "AWS::Serverless::Function", "Properties": props}

    queue = {"Events": {"Work": {"Type": "SQS", "Properties": {}}}}
    found = suppressions.wanted(
        {
            "NewConsumer": function(**queue),
            "NewWebhook": function(Events={"Hook": {"Type": "HttpApi"}}),
            "PublicOne": function(ReservedConcurrentExecutions=5, VpcConfig={}, **queue),
            "PlainQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    )
    # a queue consumer: no VPC, its failures dead-lettered by its queue, no CMK, no reservation
    assert [check for check, _ in found["NewConsumer"]] == [
        "CKV_AWS_117",
        "CKV_AWS_116",
        "CKV_AWS_173",
        "CKV_AWS_115",
    ]
    # an unknown trigger: where its failures go is for a person to decide (checkov fails)
    assert "CKV_AWS_116" not in [check for check, _ in found["NewWebhook"]]
    # what a resource already does is not suppressed; an unencrypted queue is not either
    assert [check for check, _ in found["PublicOne"]] == ["CKV_AWS_116", "CKV_AWS_173"]
    assert "PlainQueue" not in found


def test_generated_suppressions_sit_on_their_resources_with_reasons(
    template: dict[str, Any],
) -> None:
    from infra.ops import suppressions

    for name, skips in suppressions.wanted(template["Resources"]).items():
        written = template["Resources"][name]["Metadata"]["checkov"]["skip"]
        assert [(s["id"], s["comment"]) for s in written] == skips, name
