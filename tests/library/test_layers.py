"""The architecture, checked from the source: no import circles, imports point down the layers,
the command line loads no heavy library at start-up, modules and functions stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "aecli"

# Layers from the outside in; a module may import its own layer or any layer below it.
LAYERS = [
    ("cli",),
    ("library",),  # the top-level modules (verbs, Model, training loop, ...) and models/
    ("data", "parts"),
    ("store",),
    ("shared",),  # errors, options, _version: declarations every layer reads
]
# aecli.progress: the tick every layer may report through (data/ reports bytes and images read)
SHARED = {"aecli.errors", "aecli.vocabulary", "aecli._version", "aecli.progress", "aecli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, type_only: bool = False) -> set[str]:
    """The aecli modules `path` imports at run time, anywhere in the file (function-level
    imports included; `if TYPE_CHECKING:` blocks excluded unless `type_only`)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not type_only:
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("aecli"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aecli"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def graph(type_only: bool = False) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in runtime_imports(path, type_only) if m in modules and m != name}
        for name, path in modules.items()
    }


def package(module: str) -> str:
    """The sub-package a module belongs to ('' for the top level)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def layer(module: str) -> int:
    if module == "aecli.__main__":  # the `python -m aecli` entry point: the command line
        return 0
    if module in SHARED:
        return len(LAYERS) - 1
    top = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    return 1  # a top-level library module


@pytest.mark.parametrize("type_only", [False, True], ids=["run time", "with type-only imports"])
def test_the_package_has_no_import_circle(type_only: bool) -> None:
    """Not even through `if TYPE_CHECKING:` imports: the verbs are typed against
    `aecli.codec.Codec`, not the `Model` that calls them."""
    edges = graph(type_only)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if a not in SHARED and b != "aecli" and layer(b) < layer(a)
    ]
    assert not upward, "imports pointing up the layers: " + ", ".join(sorted(upward))


def test_data_and_parts_do_not_import_each_other() -> None:
    crossing = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if {package(a), package(b)} == {"data", "parts"}
    ]
    assert not crossing, ", ".join(crossing)


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, aecli.cli; "
        "print(','.join(m for m in ('torch', 'numpy', 'pandas', 'PIL') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_under_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def function_bodies() -> list[tuple[str, int]]:
    """(file:function, lines of its body after the signature and docstring) for every function;
    a Typer command's parameter declarations are its signature, not its body."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:] or body
                lines = (node.end_lineno or 0) - body[0].lineno + 1
                out.append((f"{path.name}:{node.name}", lines))
    return out


def test_functions_stay_under_60_lines() -> None:
    long = [f"{name} ({lines})" for name, lines in function_bodies() if lines > 60]
    assert not long, "functions over 60 lines: " + ", ".join(long)
