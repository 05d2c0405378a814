"""The GitOps workflow and the role it deploys with: linted offline (actionlint, cfn-lint) and
checked for what makes them safe: tests on every push, deploys only from main, dev then a smoke
test then prod (a canary), OIDC instead of stored keys, and a role trust limited to this
repository and one environment."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.ops.template_view import load as load_template
from tests.infra.helpers import FIXTURES, ROOT, describe, lint, tool

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
OIDC_TEMPLATE = ROOT / "infra" / "ci" / "github-oidc.yaml"
GITHUB_TOKEN_HOST = "token.actions.githubusercontent.com"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as True
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def test_every_workflow_passes_actionlint() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    done = _actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_reports_a_broken_workflow() -> None:
    # Given a workflow with a bad permission value, an injectable expression in a script and
    # a matrix that does not exist
    done = _actionlint(FIXTURES / "workflow_broken.yml")
    # Then actionlint fails it, naming each mistake (so the check above can fail at all)
    assert done.returncode == 1
    assert "id-token" in done.stdout
    assert "head_commit.message" in done.stdout
    assert "matrix" in done.stdout


def test_every_push_and_pull_request_runs_make_test(workflow: dict[str, Any]) -> None:
    assert set(workflow["on"]) >= {"push", "pull_request"}
    assert "branches" not in (workflow["on"]["push"] or {})
    steps = workflow["jobs"]["test"]["steps"]
    assert any(step.get("run") == "make test" for step in steps)
    assert "if" not in workflow["jobs"]["test"]


def test_main_deploys_dev_smoke_tests_it_then_deploys_prod(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    dev, prod = jobs["deploy-dev"], jobs["deploy-prod"]
    assert dev["needs"] == "test" and prod["needs"] == "deploy-dev"
    assert "refs/heads/main" in dev["if"] and "push" in dev["if"]
    assert (dev["environment"], prod["environment"]) == ("dev", "prod")
    for job, env in ((dev, "dev"), (prod, "prod")):
        runs = [step.get("run", "") for step in job["steps"]]
        deploy = next(i for i, r in enumerate(runs) if "sam deploy" in r)
        smoke = next(i for i, r in enumerate(runs) if "infra.ops.smoke" in r)
        assert f"--config-env {env}" in runs[deploy]
        assert "--no-confirm-changeset" in runs[deploy]
        assert deploy < smoke
        assert f"--stack-name agenthub-{env}" in runs[smoke]


def test_prod_is_a_canary_that_rolls_back_on_the_new_versions_alarms() -> None:
    template = load_template()
    preference = template["Globals"]["Function"]["DeploymentPreference"]
    assert preference["Type"] == {"Fn::If": ["IsProd", "Canary10Percent5Minutes", "AllAtOnce"]}
    samconfig = (ROOT / "samconfig.toml").read_text()
    assert "Stage=prod" in samconfig.split("[prod.deploy.parameters]")[1]


def test_deploys_use_oidc_and_no_stored_keys(workflow: dict[str, Any]) -> None:
    text = WORKFLOW.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "secrets." not in text
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        wants_token = job.get("permissions", {}).get("id-token") == "write"
        assert wants_token == name.startswith("deploy-"), name
        if wants_token:
            credentials = next(
                s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")
            )
            assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_the_role_template_passes_cfn_lint() -> None:
    matches = lint(OIDC_TEMPLATE)
    assert not matches, "\n" + describe(matches)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_role_trusts_only_this_repository_in_its_environment(environment: str) -> None:
    resources = load_template(OIDC_TEMPLATE)["Resources"]
    role = resources[f"{environment.capitalize()}DeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "Federated" in statement["Principal"]
    # exact matches only: no StringLike, no wildcard in the subject
    assert set(statement["Condition"]) == {"StringEquals"}
    claims = statement["Condition"]["StringEquals"]
    assert claims[f"{GITHUB_TOKEN_HOST}:aud"] == "sts.amazonaws.com"
    assert claims[f"{GITHUB_TOKEN_HOST}:sub"] == {
        "Fn::Sub": f"repo:${{GitHubOwner}}/${{GitHubRepository}}:environment:{environment}"
    }
    # and it may only pass the execution role, and only touch its own stack
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    passes = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passes == [
        {
            "Sid": "OnlyTheExecutionRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]},
        }
    ]
    stacks = next(s for s in statements if s["Sid"] == "TheEnvironmentsStack")["Resource"]
    own = [r["Fn::Sub"] for r in stacks if "stack/agenthub-" in r["Fn::Sub"]]
    assert own == [
        f"arn:${{AWS::Partition}}:cloudformation:*:${{AWS::AccountId}}:stack/agenthub-{environment}/*"
    ]
