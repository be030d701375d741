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
    ("rima.analysis", "rima.commands"),
    ("rima.analysis", "rima.service"),
    ("rima.pipeline", "rima.analysis"),
    ("rima.pipeline", "rima.report"),
    ("rima.pipeline", "rima.commands"),
    ("rima.mimic", "rima.pipeline"),
    ("rima.service", "rima.commands"),
]


# The only upward imports left, each a convenience entry point of the public result
# object kept for compatibility (function-level, so `rima.fit` does not load them):
# `RimaResult.shocks()` and `RimaResult.save(report=True)`. Moving them out of the result
# (callers use rima.analysis.shocks / rima.report.write_report) removes these lines.
KNOWN_UPWARD = {
    ("rima.pipeline", "rima.analysis.shocks"),
    ("rima.pipeline", "rima.report"),
    # `RimaResult.plot_rsm()`, `plot_profile()`, `plot_path()`: notebook conveniences that
    # draw the report's own figures (function-level, like the two above)
    ("rima.pipeline", "rima.report.figures"),
}


def test_layers_import_downwards():
    bad = []
    for mod, targets in GRAPH.items():
        for importer, imported in FORBIDDEN:
            if not _in(mod, importer):
                continue
            for t in targets:
                if _in(t, imported) and not (importer == "rima._kernels" and _in(t, importer)):
                    bad.append((mod, t))
    assert sorted(set(bad) - KNOWN_UPWARD) == []
    assert KNOWN_UPWARD <= set(bad), "an upward import was removed: drop it from KNOWN_UPWARD"


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
