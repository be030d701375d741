"""The package's import structure: no import cycles between modules, and the layers import
only downwards. Read from the source (every import statement, function-level ones
included), so nothing is imported to check it."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "rima"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of `rima` that `name` (a module or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(mod: str, path: Path):
    """(imported module, imported names, line) for every import of a `rima` module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    yield target, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if not base.startswith("rima"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:  # `from rima.x import submodule`
                    yield sub, (), node.lineno
                else:
                    target = _resolve(base)
                    if target:
                        yield target, (alias.name,), node.lineno


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


GRAPH = {mod: sorted({t for t, _, _ in _imports(mod, path) if t != mod})
         for mod, path in MODULES.items()}


def _is_package(mod: str) -> bool:
    return MODULES[mod].name == "__init__.py"


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan).

    An edge into a package's __init__ from one of its own submodules is the package being
    initialised on the way to the submodule, not a dependency, so it is left out."""
    edges = {m: [t for t in ts if not (_is_package(t) and m.startswith(t + "."))]
             for m, ts in GRAPH.items()}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def _in(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


# (importer, imported): modules under the first never import modules under the second
FORBIDDEN = [
    ("rima._kernels", "rima"),       # kernels: pure array functions, nothing above them
    ("rima.report", "rima.analysis"),  # the report renders plain data
    ("rima.report", "rima.pipeline"),
    ("rima.report", "rima.result"),
    ("rima.analysis", "rima.commands"),
    ("rima.analysis", "rima.service"),
    ("rima.analysis", "rima.result"),  # the result's methods call the analyses
    ("rima.pipeline", "rima.analysis"),
    ("rima.pipeline", "rima.report"),
    ("rima.pipeline", "rima.commands"),
    ("rima.pipeline", "rima.result"),  # the fit knows nothing of its user-facing wrapper
    ("rima.mimic", "rima.pipeline"),
    ("rima.service", "rima.commands"),
]


def _violations(graph: dict[str, list[str]]) -> list[tuple[str, str]]:
    bad = []
    for mod, targets in graph.items():
        for importer, imported in FORBIDDEN:
            if not _in(mod, importer):
                continue
            for t in targets:
                if _in(t, imported) and not (importer == "rima._kernels" and _in(t, importer)):
                    bad.append((mod, t))
    return sorted(set(bad))


def test_layers_import_downwards():
    assert _violations(GRAPH) == []


def test_the_layer_check_sees_a_hidden_upward_import(tmp_path):
    """The result's conveniences once imported the analyses and the report from inside
    the pipeline's methods; such a function-level import is still an edge of the graph."""
    path = tmp_path / "pipeline.py"
    path.write_text("def fit():\n"
                    "    from rima.report import write_report\n"
                    "    from rima import result\n"
                    "    return write_report, result\n")
    graph = {**GRAPH, "rima.pipeline": sorted({t for t, _, _ in _imports("rima.pipeline", path)})}
    assert _violations(graph) == [("rima.pipeline", "rima.report"),
                                  ("rima.pipeline", "rima.result")]


def test_click_only_in_the_command_line():
    users = [m for m, p in MODULES.items() if "click" in _third_party(p)]
    assert [m for m in users if not (_in(m, "rima.commands") or m == "rima.cli")] == []


def test_no_private_names_across_modules():
    """A name with a leading underscore is private to its module; what several modules
    share is public in one home."""
    bad = []
    for mod, path in MODULES.items():
        for target, names, line in _imports(mod, path):
            for name in names:
                if name.startswith("_") and not name.startswith("__") and target != mod:
                    bad.append(f"{mod}:{line} imports {name} from {target}")
    assert bad == []


def test_public_names_do_not_shadow_submodules():
    """`rima.<name>` resolves lazily; a submodule of the same name would replace the
    function on first import (the `rima.bootstrap` bug)."""
    tree = ast.parse((PKG / "__init__.py").read_text())
    exports = next(n for n in tree.body if isinstance(n, ast.Assign)
                   and getattr(n.targets[0], "id", "") == "_EXPORTS")
    names = {k.value for k in exports.value.keys}
    assert {n for n in names if f"rima.{n}" in MODULES} == set()


def test_every_module_has_its_line_in_the_architecture_map():
    """docs/architecture.md's module map names every module under rima/, and only those."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1]
    listed = set()
    for line in section.splitlines():
        if line.startswith("| `rima/"):
            listed.add(line.split("`")[1])
    files = {str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")}
    assert sorted(files - listed) == [], "modules without a line in the map"
    assert sorted(listed - files) == [], "lines naming no module"
