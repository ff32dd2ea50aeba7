"""Smoke prediction: load a model and predict a few rows, in a child process with a timeout.

A skops file built only from trusted types can still crash the interpreter: a DecisionTree
whose ``Tree`` arrays hold out-of-range child indices loads, then segfaults in ``predict``.
So the first load and prediction of a version runs in a separate Python process
(``python -m mlops.registry.smoke_child <dir>``): the model bytes and the smoke input go through
a temporary directory, the child writes ``result.json``. A crash (signal), a hang (timeout)
or an error there fails the promotion or rollback with one clear message, and the calling
worker lives on. The input is the candidate's ``canned_rows`` (real holdout rows from
``training.json``) or, without them, two synthetic rows built from the feature signature
(booleans true and false, encoded as the model sees them).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops.artifacts import FeatureSignature
from mlops.errors import IntegrityError, RegistryError

#: Seconds the child may take to import, load and predict (imports alone take 2-5 s on a busy machine).
SMOKE_TIMEOUT_SECONDS = 120.0
_MODEL, _SPEC, _RESULT = "model.skops", "spec.json", "result.json"
#: Checks this process saw pass, by (model sha256, smoke input): the child is deterministic in
#: them, so the same bytes on the same input need not start another interpreter.
_PASSED: dict[str, dict[str, Any]] = {}
_PASSED_MAX = 64


def _known_categories(model: Any) -> dict[str, Any]:
    """First known category per column, read from the fitted encoders inside ``model``."""
    found: dict[str, Any] = {}

    def walk(obj: Any, columns: list[str] | None) -> None:
        steps = getattr(obj, "steps", None)
        if isinstance(steps, list):
            for _, step in steps:
                walk(step, columns)
            return
        transformers = getattr(obj, "transformers_", None)
        if isinstance(transformers, list):
            for _, trans, cols in transformers:
                cols_list = list(cols) if hasattr(cols, "__iter__") and not isinstance(cols, str) else []
                names = cols_list if cols_list and all(isinstance(c, str) for c in cols_list) else None
                walk(trans, names)
            return
        cats = getattr(obj, "categories_", None)
        if isinstance(cats, list):
            names_in = getattr(obj, "feature_names_in_", None)
            names = [str(n) for n in names_in] if names_in is not None else (columns or [])
            for name, values in zip(names, cats, strict=False):
                usable = [v for v in list(values) if v is not None and v == v]
                if usable:
                    found.setdefault(name, usable[0])

    walk(model, None)
    return found


def smoke_frame(
    model: Any, signature: FeatureSignature | None = None, rows: list[dict[str, Any]] | None = None
):
    """A tiny input for a smoke prediction.

    Uses ``rows`` (the candidate's ``canned_rows`` from training.json: real holdout rows)
    when given; otherwise two synthetic rows: 0 for numeric columns, a category the
    fitted encoders know for categorical ones, and true then false for boolean ones, as the
    model sees booleans (1.0 and 0.0, :func:`mlops.models.boolean_values`), so both values go
    through the model rather than a missing value only its imputer handles. Without a
    signature the columns are the model's ``feature_names_in_``.
    """
    import pandas as pd

    columns = [(c.name, c.kind) for c in signature.columns] if signature else []
    if rows:
        frame = pd.DataFrame(rows)
        if columns and all(c in frame for c, _ in columns):
            frame = frame[[c for c, _ in columns]]
        for name, kind in columns:
            if kind == "numeric" and name in frame:
                frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return frame
    if not columns:
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            raise RegistryError(
                "Cannot build a smoke input: the manifest has no feature signature and the model has no "
                "feature_names_in_. Record feature_signature in training.json."
            )
        columns = [(str(n), "") for n in names]
    categories = _known_categories(model)
    data: dict[str, list[Any]] = {}
    for name, kind in columns:
        if name in categories and kind != "numeric":
            data[name] = [categories[name]] * 2
        elif kind == "numeric" or not kind:
            data[name] = [0.0] * 2
        elif kind == "boolean":
            data[name] = [1.0, 0.0]
        else:
            data[name] = [None] * 2
    return pd.DataFrame(data)


def smoke_predict(
    model: Any, signature: FeatureSignature | None = None, rows: list[dict[str, Any]] | None = None
) -> list[Any]:
    """Predict on :func:`smoke_frame` in this process; raise :class:`RegistryError` if the model cannot.

    Only for a model already trusted in-process; an unchecked one goes through :func:`check_in_child`.
    """
    import numpy as np

    frame = smoke_frame(model, signature, rows)
    try:
        pred = np.asarray(model.predict(frame))
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(frame), dtype=float)
            if not np.all(np.isfinite(proba)):
                raise ValueError("predict_proba returned non-finite values")
    except Exception as err:
        raise RegistryError(
            f"Smoke prediction failed on a {len(frame)}-row input with columns {list(frame.columns)}: "
            f"{type(err).__name__}: {err}"
        ) from err
    if len(pred) != len(frame):
        raise RegistryError(f"Smoke prediction returned {len(pred)} rows for {len(frame)} inputs.")
    if pred.dtype.kind in "fc" and not np.all(np.isfinite(pred)):
        raise RegistryError(f"Smoke prediction returned non-finite values: {pred.tolist()}")
    return pred.tolist()


# ---------------------------------------------------------------- the child process
def _child_env() -> dict[str, str]:
    """The parent's environment, with ``mlops`` importable and native threads limited to one."""
    root = str(Path(__file__).resolve().parents[2])  # the directory holding the mlops package
    paths = [root, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def check_in_child(
    model_bytes: bytes,
    *,
    sha256: str,
    where: str,
    signature: FeatureSignature | None,
    rows: list[dict[str, Any]] | None,
    timeout: float = SMOKE_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Load ``model_bytes`` and predict the smoke input in a child Python process.

    Returns the child's result (``rows``, ``predictions``, ``seconds``). A pass is remembered
    for the life of this process: the same bytes on the same input are not run again.

    Raises
    ------
    RegistryError
        The child crashed (e.g. SIGSEGV), did not finish within ``timeout`` seconds (it is
        killed), or the smoke prediction failed.
    IntegrityError
        The bytes do not match ``sha256`` or hold a type that is not trusted.
    """
    spec = {
        "sha256": sha256,
        "where": where,
        "signature": signature.to_dict() if signature else None,
        "rows": rows,
    }
    spec_json = json.dumps(spec, default=str, sort_keys=True)
    smoke_input = json.dumps([spec["signature"], rows], default=str, sort_keys=True).encode()
    key = hashlib.sha256(model_bytes + smoke_input).hexdigest()
    if key in _PASSED:
        return {**_PASSED[key], "seconds": 0.0, "reused": True}
    with tempfile.TemporaryDirectory(prefix="mlops-smoke-") as tmp:
        workdir = Path(tmp)
        (workdir / _MODEL).write_bytes(model_bytes)
        (workdir / _SPEC).write_text(spec_json)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "mlops.registry.smoke_child", str(workdir)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_child_env(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RegistryError(
                f"Smoke prediction of {where} did not finish within {timeout:g} s in a child process "
                "(killed): the model hangs, or the machine is overloaded. Not trusting it; pick another "
                "version, or raise smoke_timeout of ModelRegistry if the machine is slow."
            ) from None
        seconds = round(time.monotonic() - started, 3)
        if proc.returncode < 0:
            raise RegistryError(
                f"Smoke prediction of {where} crashed the child process with {_signal_name(proc.returncode)}: "
                "the model file is malformed (e.g. a tree with out-of-range node indices) and would crash "
                "any process that uses it. Not trusting it; pick another version and find out who wrote it."
            )
        result_path = workdir / _RESULT
        if not result_path.is_file():
            tail = " | ".join((proc.stderr or "").strip().splitlines()[-3:])
            raise RegistryError(
                f"Smoke prediction of {where} ended with exit code {proc.returncode} and no result "
                f"(stderr: {tail or 'empty'}). Not trusting it; check that the worker can run "
                f"`{sys.executable} -m mlops.registry.smoke_child`."
            )
        result = json.loads(result_path.read_text())
    if not result.get("ok"):
        error = IntegrityError if result.get("error_type") == "IntegrityError" else RegistryError
        raise error(str(result.get("error")))
    if len(_PASSED) >= _PASSED_MAX:
        _PASSED.clear()
    _PASSED[key] = result
    return {**result, "seconds": seconds}


def run_child(workdir: Path) -> int:
    """The child's side: load, predict, write ``result.json`` (exit 0 even on a refused model)."""
    from mlops import serialization
    from mlops.errors import MLOpsError

    spec = json.loads((workdir / _SPEC).read_text())
    signature = FeatureSignature.from_dict(spec["signature"]) if spec.get("signature") else None
    try:
        model = serialization.load_model(
            (workdir / _MODEL).read_bytes(), expected_sha256=spec["sha256"], where=spec["where"]
        )
        predictions = smoke_predict(model, signature, spec.get("rows"))
        result: dict[str, Any] = {"ok": True, "rows": len(predictions), "predictions": predictions[:5]}
    except MLOpsError as err:
        result = {"ok": False, "error_type": type(err).__name__, "error": str(err)}
    (workdir / _RESULT).write_text(json.dumps(result, default=str))
    return 0
