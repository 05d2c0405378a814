"""Plain helpers of the infrastructure tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROOT

RULES_DIR = ROOT / "infra" / "lint" / "rules"
FIXTURES = Path(__file__).parent / "fixtures"
FUNCTIONS_DIR = ROOT / "functions"
KERNEL_DIR = ROOT / "layers" / "shared" / "python" / "agenthub"
GUARDRAIL_PREFIX = "E9"  # the rule ids of infra/lint/rules


def serverless_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{logical id: Properties}`` of every ``AWS::Serverless::Function``, Globals applied."""
    globals_ = template.get("Globals", {}).get("Function", {})
    return {
        name: merge_globals(globals_, resource.get("Properties", {}))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge key by key, lists add up (Globals first), and any other
    value, intrinsic functions included, is replaced by the resource's own."""
    if _is_plain_map(global_value) and _is_plain_map(local_value):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def _is_plain_map(value: Any) -> bool:
    return isinstance(value, dict) and not any(k == "Ref" or k.startswith("Fn::") for k in value)


def handler_module(handler: str) -> str:
    """``identity.handlers.api.handler`` -> ``identity.handlers.api``."""
    return handler.rsplit(".", 1)[0]


def domain_packages() -> list[str]:
    """The domain packages under functions/ (folders with an ``__init__.py``)."""
    if not FUNCTIONS_DIR.is_dir():
        return []
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/__init__.py"))


# ------------------------------------------------------------------ cfn-lint
def lint(template_path: Path) -> list[Any]:
    """cfn-lint's matches for a template with the guardrail rules appended, in process.

    The same as ``cfn-lint <template> --append-rules infra/lint/rules``.
    """
    from cfnlint.api import ManualArgs, lint_file

    config: Any = ManualArgs(regions=["us-east-1"])
    config["append_rules"] = [str(RULES_DIR)]  # accepted by ConfigMixIn, missing from the TypedDict
    return lint_file(template_path, config=config)


def describe(matches: list[Any]) -> str:
    return "\n".join(f"  {m.rule.id} line {m.linenumber}: {m.message}" for m in matches)


# ------------------------------------------------------------------ command-line tools
def tool(name: str) -> str:
    """A console script of the running virtualenv (sam, cfn-lint), else one on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (run `make setup`)")
    return found


def tool_env() -> dict[str, str]:
    """sam build runs ``python3.12 -m pip``: the virtualenv's bin goes first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


@dataclass(frozen=True)
class SamBuild:
    returncode: int
    output: str
    seconds: float
    build_dir: Path

    def fail_unless_built(self) -> None:
        if self.returncode != 0:
            pytest.fail(
                f"sam build failed (exit {self.returncode}, {self.seconds:.0f}s):\n"
                + self.output[-4000:]
            )
