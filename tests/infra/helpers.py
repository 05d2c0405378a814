"""Plain helpers of the infrastructure tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import TemplateModel, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RULES_DIR = ROOT / "infra" / "lint" / "rules"
FIXTURES = Path(__file__).parent / "fixtures"
FUNCTIONS_DIR = ROOT / "functions"
KERNEL_DIR = ROOT / "layers" / "shared" / "python" / "agenthub"
GUARDRAIL_PREFIX = "E9"  # the rule ids of infra/lint/rules


def project_template() -> TemplateModel:
    """template.yaml as the local runtime reads it (one reader for every tier)."""
    return load_template(TEMPLATE)


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
