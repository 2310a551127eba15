"""The floor plan of the code: no import circles, no module past the size a reader can hold.

Which layer may import which is a lint rule (the ruff.toml in each folder of shared/); this
checks what a lint rule cannot: cycles through any chain of imports, including imports made
inside functions, and module length.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "arm_emulator", "devhost", "devstack", "rpcopy_cli")
MAX_LINES = 450


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every project module `path` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # `from pkg import module` names a module; `from module import name` does not.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    every = {name: path for package in PACKAGES for name, path in modules(package).items()}
    known = set(every)
    return {name: imports_of(path, name, known) for name, path in every.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            # A package's __init__ importing its own submodules is not a circle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_circle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["shared", "arm_emulator", "rpcopy_cli"])
def test_no_module_is_too_long(package: str) -> None:
    long = {
        str(path.relative_to(REPO)): count
        for path in modules(package).values()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these along their responsibilities (max {MAX_LINES} lines)"


def test_shared_never_imports_the_functions_library() -> None:
    for name, path in modules("shared").items():
        assert not any(
            target == "azure.functions" or target.startswith("azure.functions.")
            for target in _raw_imports(path)
        ), name


def _raw_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_command_line_talks_to_the_app_over_http_only() -> None:
    """rpcopy_cli is an operator tool for a deployed app: nothing of the app, its storage or
    Azure's SDKs in it, only the HTTP API (devstack's demo may use it, not the other way)."""
    banned = ("shared", "azure", "devstack", "devhost", "arm_emulator", "function_app")
    for name, path in modules("rpcopy_cli").items():
        found = {t for t in _raw_imports(path) if t.split(".")[0] in banned}
        assert found == set(), (name, found)
