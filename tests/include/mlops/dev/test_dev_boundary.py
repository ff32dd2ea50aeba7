"""The lifecycle core never imports the dev tooling (only the ``mlops seed`` command does, lazily)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[4] / "include" / "mlops"
#: CLI front-ends that may reach into mlops.dev inside their ``run``.
ALLOWED = {CORE / "commands" / "seed.py"}


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return out


def test_core_modules_do_not_import_mlops_dev():
    files = [p for p in CORE.rglob("*.py") if (CORE / "dev") not in p.parents and p not in ALLOWED]
    assert len(files) > 10
    offenders = [
        f"{p.relative_to(CORE.parent)}:{line} imports {mod}"
        for p in files
        for mod, line in _imported_modules(p)
        if mod == "mlops.dev" or mod.startswith("mlops.dev.")
    ]
    assert not offenders, offenders


def test_the_old_module_paths_are_gone():
    assert not [n for n in ("demo", "datagen", "demo_report", "local_s3") if (CORE / f"{n}.py").exists()]
