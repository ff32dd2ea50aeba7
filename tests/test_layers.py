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


MLOPS = REPO / "include" / "mlops"
STEPS = {"validation", "training", "evaluation", "registry", "scoring", "monitoring"}
GROUND = {
    "config",
    "storage",
    "tables",
    "artifacts",
    "metrics",
    "metric_names",
    "fairness_metrics",
    "errors",
    "serialization",
    "models",
    "profiling",
    "_util",
}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80


def _mlops_targets(path: Path) -> list[tuple[str, int]]:
    """(first mlops sub-package, line) for every import of the mlops package in ``path``."""
    rel = path.relative_to(MLOPS.parent).with_suffix("").parts  # ("mlops", "scoring", "plan")
    package = rel[:-1] if path.name != "__init__.py" else rel[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "mlops":
                out += [(f"mlops.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((module, node.lineno))
    return [(m.split(".")[1], line) for m, line in out if m.startswith("mlops.") and m.count(".") >= 1]


def _owner(path: Path) -> str:
    return path.relative_to(MLOPS).parts[0].removesuffix(".py")


def test_steps_are_siblings_that_never_import_each_other():
    offenders = [
        f"{p.relative_to(REPO)}:{line} ({_owner(p)}) imports mlops.{target}"
        for p in MLOPS.rglob("*.py")
        if _owner(p) in STEPS
        for target, line in _mlops_targets(p)
        if target in STEPS and target != _owner(p)
    ]
    assert not offenders, offenders


def test_ground_never_imports_a_step_or_dev_tooling():
    offenders = [
        f"{p.relative_to(REPO)}:{line} imports mlops.{target}"
        for p in MLOPS.rglob("*.py")
        if _owner(p) in GROUND
        for target, line in _mlops_targets(p)
        if target in STEPS | {"dev", "commands", "cli", "tracking"}
    ]
    assert not offenders, offenders


def test_every_lifecycle_step_is_a_package():
    missing = sorted(step for step in STEPS if not (MLOPS / step / "__init__.py").is_file())
    assert not missing, f"steps that are not packages: {missing}"


def test_only_storage_imports_boto3():
    offenders = [
        f"{p.relative_to(REPO)}:{line} imports {mod}"
        for p in (REPO / "include").rglob("*.py")
        if p != MLOPS / "storage.py"
        for mod, line, _ in _imports(p)
        if mod.split(".")[0] in {"boto3", "botocore"}
    ]
    assert not offenders, offenders


def test_core_modules_and_functions_stay_small():
    too_long = []
    for p in MLOPS.rglob("*.py"):
        text = p.read_text()
        lines = text.count("\n") + 1
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{p.relative_to(REPO)}: {lines} lines (max {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = node.end_lineno - node.lineno + 1
                if span > MAX_FUNCTION_LINES:
                    too_long.append(
                        f"{p.relative_to(REPO)}:{node.lineno} {node.name}() is {span} lines "
                        f"(max {MAX_FUNCTION_LINES})"
                    )
    assert not too_long, "\n".join(too_long)
