"""``sam build`` works offline (PyPI aside) and packs code where Lambda will look for it:
the shared kernel and third-party packages in the layer (arm64 wheels), the domain packages in
each function, and nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.helpers import SamBuild, domain_packages, project_template

pytestmark = pytest.mark.slow

LAYER = "SharedLayer"
LAYERS = sorted(project_template().serverless("AWS::Serverless::LayerVersion"))
AARCH64 = 183  # ELF e_machine


def _top_level_names(folder: Path) -> set[str]:
    """Importable top-level names in a folder: packages, modules, and ``*.dist-info``."""
    names = set()
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir() or entry.suffix in {".py", ".so"}:
            names.add(entry.name.removesuffix(".py"))
    return names


def test_sam_build_succeeds(sam_build: SamBuild) -> None:
    # Given the template, When sam build runs (once per session), Then it succeeds
    sam_build.fail_unless_built()
    assert (sam_build.build_dir / "template.yaml").is_file()


def test_layer_holds_the_kernel_and_pinned_packages(sam_build: SamBuild) -> None:
    # Given a successful build
    sam_build.fail_unless_built()
    python = sam_build.build_dir / LAYER / "python"
    # When we look where Lambda puts a layer on sys.path (/opt/python)
    # Then the kernel is importable as `agenthub` and the pinned packages are beside it
    assert (python / "agenthub" / "__init__.py").is_file(), (
        "the kernel is not at python/agenthub in the built layer; found "
        f"{sorted(p.relative_to(python.parent).as_posix() for p in python.rglob('agenthub'))}. "
        "With BuildMethod python3.12 SAM copies ContentUri *into* python/, so ContentUri must be "
        "the folder that holds agenthub/ and requirements.txt (layers/shared/python/)."
    )
    for package in ("pydantic", "aws_lambda_powertools", "pynamodb"):
        assert (python / package).is_dir(), f"{package} missing from the built layer"
    assert not (python / "python").exists(), "layer has a nested python/python folder"


def _elf_machine(path: Path) -> int | None:
    """The ELF ``e_machine`` of a shared object (183 = AArch64, 62 = x86-64), else None."""
    with path.open("rb") as binary:
        header = binary.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_native_code_is_built_for_arm64(sam_build: SamBuild, layer: str) -> None:
    # Given a successful build of arm64 layers on whatever machine runs the tests
    sam_build.fail_unless_built()
    built = sam_build.build_dir / layer
    assert built.is_dir(), f"{layer} was not built"
    # When we read the machine type of every shared object in it
    machines = {
        path.relative_to(built).as_posix(): _elf_machine(path)
        for path in built.rglob("*.so*")
        if path.is_file()
    }
    # Then each is a Linux aarch64 build (Lambda arm64), not one for the build machine
    wrong = {name: machine for name, machine in machines.items() if machine != AARCH64}
    assert not wrong, f"{layer}: not aarch64 (e_machine): {wrong}"


def test_shared_layer_has_compiled_pydantic_core(sam_build: SamBuild) -> None:
    # Given the shared layer, Then pydantic-core's extension is there (so the check above
    # looked at real native code, not at an empty folder)
    sam_build.fail_unless_built()
    extensions = list((sam_build.build_dir / LAYER / "python" / "pydantic_core").glob("*.so"))
    assert extensions, "pydantic_core has no compiled extension in the layer"


@pytest.mark.parametrize("function", sorted(project_template().serverless()))
def test_function_package_holds_domains_but_no_layer_packages(
    sam_build: SamBuild, function: str
) -> None:
    # Given a successful build
    sam_build.fail_unless_built()
    built = sam_build.build_dir / function
    layer = set().union(
        *(_top_level_names(sam_build.build_dir / name / "python") for name in LAYERS)
    )
    # When we list what the function's zip would contain
    names = _top_level_names(built)
    # Then every domain package is there
    domains = domain_packages()
    assert domains, "functions/ has no domain packages yet"
    missing = sorted(set(domains) - names)
    assert not missing, f"{function} lacks domain packages {missing}"
    # And nothing that the layer already provides (no duplicated dependencies, no kernel copy)
    duplicated = sorted((names & (layer | {"agenthub"})) - set(domains))
    assert not duplicated, f"{function} duplicates layer packages: {duplicated}"
    assert not [n for n in names if n.endswith((".dist-info", ".egg-info"))], (
        f"{function} has installed distributions: a requirements.txt crept into functions/?"
    )
    # And no bytecode caches from the developer's machine
    assert not list(built.rglob("__pycache__")), f"{function} ships __pycache__ folders"
