"""The layers of docs/architecture.md hold: no import cycle among bessgym's modules, not even through type hints
or imports inside functions, and each layer imports only from the layers above it (nothing in bessgym from
agents or experiments)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bessgym"
LAYERS = ("data", "market", "assets", "envs", "control")  # top to bottom; modules at the root serve all, and the
# package itself (its __init__, which registers the envs) comes last


def imports() -> dict[str, set[str]]:
    """Each module's imports of other bessgym modules (a package's lazy re-exports excluded)."""
    files = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in files and m != name and files[m].name != "__init__.py"
                       or m.split(".")[0] in ("agents", "experiments")}
    return graph


def test_no_module_imports_itself_through_others():
    graph, cycles = imports(), []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                cycles.append(" -> ".join([*path, nxt]))
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for module in sorted(graph):
        walk(module, module, [module])
    assert cycles == []


def test_each_layer_imports_only_from_the_layers_above():
    def layer(module: str) -> int:
        if module == "bessgym":
            return len(LAYERS)
        part = module.split(".")[1]
        return LAYERS.index(part) if part in LAYERS else -1

    wrong = [f"{m} imports {d}" for m, deps in imports().items() for d in deps
             if d.split(".")[0] != "bessgym" or layer(d) > layer(m)]
    assert wrong == []
