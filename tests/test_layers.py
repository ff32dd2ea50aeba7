"""Imports point one way: dags -> plugins -> include/mlops. The core library never imports Airflow."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = {"pandas", "sklearn", "great_expectations", "numpy", "matplotlib", "scipy", "pyarrow"}


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, top_level) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno, id(node) in top))
    return out


def test_core_library_never_imports_airflow():
    offenders = [
        f"{p.relative_to(REPO)}:{line} imports {mod}"
        for p in (REPO / "include" / "mlops").rglob("*.py")
        for mod, line, _ in _imports(p)
        if mod.split(".")[0] == "airflow"
    ]
    assert not offenders, offenders


def test_plugins_do_not_import_dags():
    offenders = [
        f"{p.relative_to(REPO)}:{line}"
        for p in (REPO / "plugins").rglob("*.py")
        for mod, line, _ in _imports(p)
        if mod.split(".")[0] in {p.stem for p in (REPO / "dags").glob("*.py")}
    ]
    assert not offenders, offenders


def test_dag_files_have_no_heavy_top_level_imports():
    offenders = [
        f"{p.relative_to(REPO)}:{line} imports {mod}"
        for p in (REPO / "dags").glob("*.py")
        for mod, line, top in _imports(p)
        if top and mod.split(".")[0] in HEAVY
    ]
    assert not offenders, offenders
