"""Dependencies point one way, checked on the source's imports.

- handlers -> logic -> dal; models anywhere; the arrow never points back.
- Each domain's ``logic/__init__.py`` declares its public surface in ``__all__``; another
  domain imports only those names (``from <other>.logic import name``), never its modules,
  dal, handlers or models.
- Storage shapes stay in dal/: pynamodb, the table base and the key formats
  (``agenthub.keys``, or a ``PREFIX#`` literal) appear nowhere else.
- logic and dal know nothing of HTTP (``aws_lambda_powertools.event_handler``) and never read
  ``os.environ``: settings come through ``agenthub.settings``.
- The kernel (``agenthub``) imports no domain.

Every violation is reported as ``file:line``. The checker is itself tested on a small tree of
bad modules, so a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.infra.helpers import FUNCTIONS_DIR, KERNEL_DIR, ROOT

# The planned domains, also those not written yet: the kernel may import none of them.
PLANNED_DOMAINS = frozenset(
    {
        "identity",
        "agents",
        "knowledge",
        "conversations",
        "widget",
        "scheduling",
        "payments",
        "billing",
        "analytics",
        "audit",
        "docs",
    }
)
LAYER_ALIASES = {"service": "logic"}  # "logic/ (or service)"
# What a module of each layer may import from its own domain.
ALLOWED_OWN_LAYERS = {
    "handlers": {"handlers", "logic", "models"},
    "logic": {"logic", "dal", "models"},
    "dal": {"dal", "models"},
    "models": {"models"},
    "package": {"logic", "models"},  # the domain's __init__.py
}
HTTP_PACKAGE = ("aws_lambda_powertools", "event_handler")
# Imports allowed despite the rules: (importing module, imported module pattern, names).
# Each is a design decision; keep the list short and say why.
EXCEPTIONS = {
    # docs merges one OpenAPI document from every domain's resolver: it reads their route
    # tables (`app`) and never calls a handler. A route table cannot live in logic (no HTTP
    # types there), so this is the one place a domain imports another's handlers.
    ("docs.handlers.api", "*.handlers.api", frozenset({"app"})),
}
ENVIRONMENT_NAMES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})
# Storage, for dal/ only: pynamodb, the table base and the key formats.
STORAGE_MODULES = (("pynamodb",), ("agenthub", "keys"), ("agenthub", "table"))
KEY_LITERAL = re.compile(r"\b[A-Z][A-Z0-9_]*#")  # TENANT#, KB#, ...


@dataclass(frozen=True)
class Violation:
    kind: str  # layout | layers | surface | domains | storage | purity | kernel
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Module:
    path: Path
    name: tuple[str, ...]  # ("identity", "logic", "service")
    is_package: bool

    @property
    def domain(self) -> str:
        return self.name[0]

    @property
    def layer(self) -> str:
        return layer_of(self.name) or "package"


def layer_of(name: tuple[str, ...]) -> str | None:
    return LAYER_ALIASES.get(name[1], name[1]) if len(name) > 1 else None


def modules_under(root: Path) -> Iterator[Module]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        yield Module(path, parts[:-1] if is_package else parts, is_package)


def imports_of(module: Module) -> Iterator[tuple[int, tuple[str, ...], frozenset[str]]]:
    """(line, imported module, names taken from it) for every import, relative made absolute.

    ``from pkg import name`` counts as importing ``pkg.name`` when ``pkg`` is a bare package
    (``from identity import dal``), otherwise as importing ``pkg`` (``from identity.dal import
    items`` -> ``identity.dal``, which is what the rules look at).
    """
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, tuple(alias.name.split(".")), frozenset()
        elif isinstance(node, ast.ImportFrom):
            base: tuple[str, ...] = ()
            if node.level:
                package = module.name if module.is_package else module.name[:-1]
                base = package[: len(package) - (node.level - 1)]
            target = base + tuple((node.module or "").split(".") if node.module else ())
            if len(target) >= 2:
                yield node.lineno, target, frozenset(alias.name for alias in node.names)
            else:
                for alias in node.names:
                    yield node.lineno, (*target, alias.name), frozenset()


def environment_reads(module: Module) -> Iterator[tuple[int, str]]:
    """Lines that read the process environment: ``os.environ``, ``os.getenv``, ``from os ...``."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    os_names = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names.update(a.asname or a.name for a in node.names if a.name == "os")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ENVIRONMENT_NAMES:
                    yield node.lineno, f"from os import {alias.name}"
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            yield node.lineno, f"{node.value.id}.{node.attr}"


def public_surface(functions_dir: Path, domain: str) -> frozenset[str] | None:
    """The names ``<domain>/logic/__init__.py`` lists in ``__all__`` (None: no list)."""
    path = functions_dir / domain / "logic" / "__init__.py"
    if not path.is_file():
        return frozenset()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        value = getattr(node, "value", None)
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and isinstance(
            value, ast.List | ast.Tuple
        ):
            return frozenset(
                e.value
                for e in value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return None


def key_literals(module: Module) -> Iterator[int]:
    """Lines with a string (or f-string part) shaped like a key format (``TENANT#``)."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and KEY_LITERAL.search(node.value)
        ):
            yield node.lineno


def check_domains(functions_dir: Path, domains: frozenset[str]) -> list[Violation]:
    """Every architecture violation in the domain packages under ``functions_dir``."""
    found: list[Violation] = []
    surfaces = {domain: public_surface(functions_dir, domain) for domain in domains}
    for module in modules_under(functions_dir):
        if module.domain not in domains or module.layer not in ALLOWED_OWN_LAYERS:
            found.append(
                Violation(
                    "layout",
                    module.path,
                    1,
                    "not part of a domain's handlers/ logic/ dal/ models layout",
                )
            )
            continue
        logic_package = module.layer == "logic" and module.is_package and len(module.name) == 2
        if logic_package and surfaces.get(module.domain) is None:
            found.append(
                Violation("surface", module.path, 1, "declares no __all__ (its public names)")
            )
        for line, target, names in imports_of(module):
            if not _excepted(module, target, names):
                found.extend(_check_import(module, line, target, names, domains, surfaces))
        if module.layer != "dal":
            found.extend(
                Violation("storage", module.path, line, "a key format outside dal/")
                for line in key_literals(module)
            )
        if module.layer in {"logic", "dal"}:
            found.extend(
                Violation(
                    "purity",
                    module.path,
                    line,
                    f"{module.layer} reads the environment ({what}); use agenthub.settings",
                )
                for line, what in environment_reads(module)
            )
    return found


def _excepted(module: Module, target: tuple[str, ...], names: frozenset[str]) -> bool:
    source, imported = ".".join(module.name), ".".join(target)
    return any(
        source == allowed_source and fnmatchcase(imported, pattern) and names and names <= allowed
        for allowed_source, pattern, allowed in EXCEPTIONS
    )


def _check_import(
    module: Module,
    line: int,
    target: tuple[str, ...],
    names: frozenset[str],
    domains: frozenset[str],
    surfaces: dict[str, frozenset[str] | None],
) -> Iterator[Violation]:
    shown = ".".join(target)
    if module.layer != "dal" and any(target[: len(s)] == s for s in STORAGE_MODULES):
        yield Violation("storage", module.path, line, f"imports {shown}: storage belongs in dal/")
    if target[: len(HTTP_PACKAGE)] == HTTP_PACKAGE and module.layer in {"logic", "dal"}:
        yield Violation(
            "purity",
            module.path,
            line,
            f"{module.layer} imports HTTP types ({shown}); keep them in handlers",
        )
    if target[0] not in domains:
        return
    layer = layer_of(target)
    if target[0] != module.domain:
        public = surfaces.get(target[0]) or frozenset()
        if target[1:] != ("logic",) or not names or not names <= public:
            yield Violation(
                "domains",
                module.path,
                line,
                f"imports {shown} {sorted(names)}: another domain only through the names "
                f"{target[0]}.logic exports ({sorted(public)})",
            )
    elif layer is None or layer not in ALLOWED_OWN_LAYERS[module.layer]:
        yield Violation(
            "layers",
            module.path,
            line,
            f"{module.layer} may not import {layer or 'the domain package'} ({shown})",
        )


def check_kernel(kernel_dir: Path, domains: frozenset[str]) -> list[Violation]:
    return [
        Violation("kernel", module.path, line, f"kernel imports domain code ({'.'.join(target)})")
        for module in modules_under(kernel_dir)
        for line, target, _ in imports_of(module)
        if target[0] in domains
    ]


def _domains() -> frozenset[str]:
    return PLANNED_DOMAINS | {p.parent.name for p in FUNCTIONS_DIR.glob("*/__init__.py")}


@pytest.fixture(scope="module")
def violations() -> list[Violation]:
    modules = list(modules_under(FUNCTIONS_DIR))
    assert modules, f"no modules under {FUNCTIONS_DIR}"
    return check_domains(FUNCTIONS_DIR, _domains())


def _report(violations: list[Violation], kind: str) -> list[str]:
    return [str(v) for v in violations if v.kind == kind]


def test_domain_modules_follow_the_layout(violations: list[Violation]) -> None:
    # Given every module under functions/, Then each sits in handlers/, logic/, dal/ or models
    found = _report(violations, "layout")
    assert not found, "\n" + "\n".join(found)


def test_layers_point_one_way(violations: list[Violation]) -> None:
    # Given every import inside a domain, Then handlers -> logic -> dal, never back
    found = _report(violations, "layers")
    assert not found, "\n" + "\n".join(found)


def test_every_domain_declares_its_public_logic(violations: list[Violation]) -> None:
    # Given each domain's logic package, Then its __init__ lists its public names in __all__
    found = _report(violations, "surface")
    assert not found, "\n" + "\n".join(found)


def test_domains_meet_only_through_the_names_their_logic_exports(
    violations: list[Violation],
) -> None:
    # Given every import of another domain, Then it takes names that domain's logic exports
    found = _report(violations, "domains")
    assert not found, "\n" + "\n".join(found)


def test_storage_shapes_stay_in_dal(violations: list[Violation]) -> None:
    # Given modules outside dal/, Then no pynamodb, table base or key format in them
    found = _report(violations, "storage")
    assert not found, "\n" + "\n".join(found)


def test_logic_and_dal_know_no_http_and_no_environment(violations: list[Violation]) -> None:
    # Given logic and dal modules, Then no HTTP types and no os.environ in them
    found = _report(violations, "purity")
    assert not found, "\n" + "\n".join(found)


def test_kernel_imports_no_domain() -> None:
    # Given the shared kernel, Then it imports no domain package
    assert list(modules_under(KERNEL_DIR)), f"no kernel modules under {KERNEL_DIR}"
    found = [str(v) for v in check_kernel(KERNEL_DIR, _domains())]
    assert not found, "\n" + "\n".join(found)


# ------------------------------------------------------------------ the checker itself
BAD_TREE = {
    "shop/__init__.py": "",
    "shop/models.py": "from shop.logic import orders\n",  # models -> logic
    "shop/handlers/api.py": (
        "from shop.dal import items\n"  # handlers -> dal
        "from shop.logic import orders\n"  # fine
        "from pay.dal import items as theirs\n"  # another domain's dal
        "import pynamodb.models\n"  # storage outside dal
        "from pay.logic import charge_card\n"  # fine: exported
    ),
    "shop/logic/__init__.py": '"""no __all__"""\n',  # an undeclared public surface
    "shop/logic/orders.py": (
        "import os\n"
        "from ..handlers import api\n"  # logic -> handlers (relative)
        "from aws_lambda_powertools.event_handler import Response\n"  # HTTP in logic
        "from pay.logic import charge\n"  # a module of pay's logic, not exported
        "TABLE = os.environ['TABLE']\n"  # environment in logic
        "from agenthub.keys import tenant_pk\n"  # key formats outside dal
        "def pk(t):\n"
        "    return f'ORDER#{t}'\n"  # a key format literal outside dal
        "import pay.logic\n"  # no names: not through pay's exports
        "from pay.logic.charge import charge_card\n"  # a module below pay.logic
    ),
    "shop/dal/items.py": (
        "from os import getenv\n"  # environment in dal
        "from shop import logic\n"  # dal -> logic
        "import pay\n"  # another domain, not through logic
        "from agenthub.keys import tenant_pk\n"  # fine in dal
        "import pynamodb.models\n"  # fine in dal
        "SK = 'ORDER#'\n"  # fine in dal
    ),
    "shop/helpers.py": "",  # outside the layout
    "pay/__init__.py": "",
    "pay/logic/__init__.py": '"""pay"""\n__all__ = ["charge_card"]\n',
    "pay/logic/charge.py": "from shop.models import Order\n",  # another domain's models
    "docs/__init__.py": "",
    "docs/handlers/api.py": (
        "from shop.handlers.api import app\n"  # the one exception: a resolver's route table
        "from shop.handlers.api import app, create_order\n"  # more than the route table
    ),
}
EXPECTED = {
    ("layers", "shop/models.py", 1),
    ("layers", "shop/handlers/api.py", 1),
    ("domains", "shop/handlers/api.py", 3),
    ("storage", "shop/handlers/api.py", 4),
    ("surface", "shop/logic/__init__.py", 1),
    ("layers", "shop/logic/orders.py", 2),
    ("purity", "shop/logic/orders.py", 3),
    ("domains", "shop/logic/orders.py", 4),
    ("purity", "shop/logic/orders.py", 5),
    ("storage", "shop/logic/orders.py", 6),
    ("storage", "shop/logic/orders.py", 8),
    ("domains", "shop/logic/orders.py", 9),
    ("domains", "shop/logic/orders.py", 10),
    ("purity", "shop/dal/items.py", 1),
    ("layers", "shop/dal/items.py", 2),
    ("domains", "shop/dal/items.py", 3),
    ("layout", "shop/helpers.py", 1),
    ("domains", "pay/logic/charge.py", 1),
    ("domains", "docs/handlers/api.py", 2),
}


def test_checker_reports_each_kind_of_violation_with_its_line(tmp_path: Path) -> None:
    # Given a small tree of domains breaking every rule once
    for relative, source in BAD_TREE.items():
        path = tmp_path / "functions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    kernel = tmp_path / "kernel" / "agenthub"
    kernel.mkdir(parents=True)
    (kernel / "__init__.py").write_text('"""kernel"""\nfrom shop.logic import orders\n')
    # When the checker runs on it
    domains = frozenset({"shop", "pay", "docs"})
    found = check_domains(tmp_path / "functions", domains)
    kernel_found = check_kernel(tmp_path / "kernel", domains)
    # Then it reports exactly the planted violations, each at its line
    got = {(v.kind, v.path.relative_to(tmp_path / "functions").as_posix(), v.line) for v in found}
    assert got == EXPECTED, "\n".join(str(v) for v in found)
    assert [(v.kind, v.line) for v in kernel_found] == [("kernel", 2)]
