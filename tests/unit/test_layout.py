"""The layout shows the flow: packages import only downwards, no cycles, small modules.

The rules are the ones docs/architecture.md states ("What each package may import"); this test
reads every module's imports with ``ast`` (including imports inside functions), so a lazy import
that runs up the layers fails here too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# package → the packages it may import (besides itself). "rig" is rig/__init__ (the version).
ALLOWED: dict[str, set[str]] = {
    "drivers": set(),
    "rig.data": set(),
    "rig": set(),
    "rig.core": {"rig"},
    "rig.detector": {"rig", "rig.core"},
    "rig.stimulus": {"rig", "rig.core"},
    "rig.protocol": {"rig", "rig.core", "rig.detector", "rig.stimulus"},
    "rig.storage": {"rig", "rig.core", "rig.detector"},
    "rig.analysis": {"rig", "rig.core", "rig.detector", "rig.protocol", "rig.storage"},
    "rig.closed_loop": {"rig", "rig.core", "rig.detector", "rig.stimulus", "rig.protocol", "rig.analysis.results"},
    "rig.display": {"rig", "rig.core", "rig.detector", "rig.analysis.results", "rig.analysis.mea_results"},
    "rig.engine": {"rig", "rig.core", "rig.detector", "rig.stimulus", "drivers"},
    "rig.experiment": {"rig", "rig.core", "rig.detector", "rig.stimulus", "rig.protocol", "rig.storage",
                       "rig.analysis", "rig.closed_loop", "rig.display", "rig.engine", "drivers"},
    "rig.bench": {"rig", "rig.core", "rig.detector", "rig.stimulus", "rig.protocol", "rig.storage", "rig.analysis",
                  "rig.closed_loop", "rig.display", "rig.engine", "rig.experiment", "rig.study.execute", "drivers"},
    "rig.study": {"rig", "rig.core", "rig.detector", "rig.stimulus", "rig.protocol", "rig.storage", "rig.analysis",
                  "rig.closed_loop", "rig.display", "rig.engine", "rig.experiment"},
    "rig.commands": {"rig", "rig.core", "rig.detector", "rig.stimulus", "rig.protocol", "rig.storage",
                     "rig.analysis", "rig.closed_loop", "rig.display", "rig.engine", "rig.experiment",
                     "rig.bench", "rig.study", "drivers"},
    "rig.cli": {"rig", "rig.core", "rig.commands"},
}
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 5  # rig/__init__.py, cli.py, engine.py, stimulus.py (+1 spare)


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("rig", "drivers"):
        for p in (ROOT / top).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _package(mod: str) -> str:
    parts = mod.split(".")
    if parts[0] == "drivers":
        return "drivers"
    return "rig" if len(parts) == 1 else f"rig.{parts[1]}"


def _imports(path: Path, modules: dict[str, Path], *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            # `from pkg import module` imports the module (and the package's __init__, a facade)
            names = subs if all(s in modules for s in subs) else [node.module, *subs]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def _allowed(src_pkg: str, target: str) -> bool:
    tgt_pkg = _package(target)
    if tgt_pkg == src_pkg:
        return True
    rules = ALLOWED[src_pkg]
    return tgt_pkg in rules or any(target == r or target.startswith(r + ".") for r in rules if r.count(".") > 1)


def test_every_package_imports_only_downwards():
    modules = _modules()
    wrong = []
    for mod, path in sorted(modules.items()):
        pkg = _package(mod)
        assert pkg in ALLOWED, f"{mod}: package {pkg} has no import rule in this test and docs/architecture.md"
        wrong += [f"{mod} imports {t}" for t in sorted(_imports(path, modules)) if not _allowed(pkg, t)]
    assert not wrong, "imports that run up the layers:\n" + "\n".join(wrong)


def test_no_import_cycle_between_modules():
    modules = _modules()
    # lazy imports inside functions count too: rig/bench.py ⇄ rig/storage/bench.py was such a cycle
    graph = {m: {t for t in _imports(p, modules) if t != m} for m, p in modules.items()}
    # a package __init__ that re-exports its own submodules is not a cycle of the flow
    for m in graph:
        graph[m] = {t for t in graph[m] if not (t.startswith(m + ".") or m.startswith(t + ".") and _is_facade(t))}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def _is_facade(mod: str) -> bool:
    return _modules()[mod].name == "__init__.py"


def test_modules_are_small_and_rig_has_few_top_level_modules():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    top = sorted(p.name for p in (ROOT / "rig").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_engine_does_not_load_the_closed_loop_or_scipy():
    # numba itself imports the bare scipy package; the controller's scipy.optimize/stats must not load
    code = ("import sys, rig.engine; print(sorted(m for m in sys.modules if m.startswith(('scipy.optimize', "
            "'scipy.stats', 'rig.closed_loop'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_project_stands_alone():
    """Nothing a user gets with the repository points outside it (to the developers' shared notes)."""
    bad = []
    for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "protocols").rglob("*"),
              *(ROOT / "rig").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]:
        if p.is_file():
            text = p.read_text(encoding="utf-8", errors="replace")
            bad += [f"{p.relative_to(ROOT)}: {w}" for w in ("../shared", "DESIGN.md", "PRACTICE.md") if w in text]
    assert not bad, bad
