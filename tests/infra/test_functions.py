"""Every function runs where the layer was built for (python3.12 on arm64), is traced, and
points at a handler that exists."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tests.infra.helpers import ROOT, handler_module, project_template

RUNTIME = "python3.12"
ARCHITECTURES = ["arm64"]
FUNCTIONS = project_template().serverless()


def test_globals_set_runtime_architecture_tracing_and_layer(template: dict[str, Any]) -> None:
    # Given the template's function Globals
    globals_ = template["Globals"]["Function"]
    # Then the platform settings are made once, there
    assert globals_["Runtime"] == RUNTIME
    assert globals_["Architectures"] == ARCHITECTURES
    assert globals_["Tracing"] == "Active"
    assert {"Ref": "SharedLayer"} in globals_["Layers"]


def test_shared_layer_is_built_for_the_functions_platform(template: dict[str, Any]) -> None:
    # Given the shared layer
    layer = template["Resources"]["SharedLayer"]
    # Then it is built and declared for the runtime and architecture the functions use
    assert layer["Metadata"]["BuildMethod"] == RUNTIME
    assert layer["Metadata"]["BuildArchitecture"] == ARCHITECTURES[0]
    assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME]
    assert layer["Properties"]["CompatibleArchitectures"] == ARCHITECTURES


def test_template_has_functions() -> None:
    assert FUNCTIONS, "template.yaml declares no AWS::Serverless::Function"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_runs_python312_on_arm64_with_tracing(function: str) -> None:
    # Given a function with Globals applied
    properties = FUNCTIONS[function]
    # Then nothing overrides the platform settings
    assert properties.get("Runtime") == RUNTIME, function
    assert properties.get("Architectures") == ARCHITECTURES, function
    assert properties.get("Tracing") == "Active", function
    assert {"Ref": "SharedLayer"} in properties.get("Layers", []), function


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_handler_exists_on_disk(function: str) -> None:
    # Given a function's CodeUri and Handler
    properties = FUNCTIONS[function]
    code_dir = ROOT / properties["CodeUri"]
    module = handler_module(properties["Handler"])
    entry_point = properties["Handler"].rsplit(".", 1)[1]
    # When the handler module is looked up as Lambda's Python runtime would
    relative = Path(*module.split("."))
    candidates = [code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"]
    source = next((path for path in candidates if path.is_file()), None)
    # Then the module exists and defines the entry point at top level
    assert source, f"{function}: no {module} under {code_dir} (looked for {candidates})"
    assert entry_point in _top_level_names(source), (
        f"{function}: {source.relative_to(ROOT)} defines no top-level {entry_point!r}"
    )


def _top_level_names(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
