"""Behavioural checks: the candidate reloads from its bytes and scores the rows production will send.

Canned rows come from ``training.json`` (:attr:`~mlops.artifacts.TrainingRecord.canned_rows`).
Each check is a :class:`~mlops.artifacts.GateRule` of kind ``behaviour``; a model that raises
while scoring fails its check, it does not crash the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import serialization
from mlops.artifacts import GateRule
from mlops.artifacts.training import FAIL, PASS, SKIP
from mlops.config import DatasetConfig
from mlops.errors import MLOpsError
from mlops.models import predict

if TYPE_CHECKING:
    import pandas as pd

UNSEEN_CATEGORY = "__unseen_category__"
CHECKS = ("reloads_from_bytes", "canned_rows_finite", "optional_missing_scores", "unseen_category_scores")


def _rule(name: str, threshold: str, verdict: str, detail: str) -> GateRule:
    return GateRule(name, "behaviour", None, None, None, threshold, verdict, detail)


def canned_frame(cfg: DatasetConfig, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The canned rows from ``training.json`` as a frame, in config column order."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(cfg.feature_columns))
    for col in cfg.features.numeric:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in cfg.features.categorical:
        frame[col] = frame[col].astype("object").where(frame[col].notna(), np.nan)
    return frame


def behavioural_checks(
    cfg: DatasetConfig, model_bytes: bytes, *, expected_sha256: str, rows: list[dict[str, Any]]
) -> list[GateRule]:
    """Reload from bytes; predict canned rows (finite, right shape); score all-optional-missing and unseen rows."""
    try:
        model = serialization.load_model(
            model_bytes, expected_sha256=expected_sha256, where="candidate model.skops"
        )
    except MLOpsError as err:
        failed = [_rule(CHECKS[0], "loads", FAIL, str(err))]
        return failed + [_rule(name, "-", FAIL, "model did not load") for name in CHECKS[1:]]
    rules = [_rule(CHECKS[0], "loads", PASS, f"{len(model_bytes)} bytes, sha256 {expected_sha256[:12]}")]
    frame = canned_frame(cfg, rows)
    rules.append(_predict_check("canned_rows_finite", model, cfg, frame, f"{len(frame)} canned rows"))
    if cfg.features.optional:
        missing = frame.head(1).copy()
        for col in cfg.features.optional:
            missing[col] = np.nan
        what = f"optional {list(cfg.features.optional)} all missing"
        rules.append(_predict_check("optional_missing_scores", model, cfg, missing, what))
    else:
        rules.append(_rule("optional_missing_scores", "-", SKIP, "no optional features in the config"))
    if cfg.features.categorical:
        unseen = frame.head(1).copy()
        for col in cfg.features.categorical:
            unseen[col] = UNSEEN_CATEGORY
        what = f"categoricals set to {UNSEEN_CATEGORY!r}"
        rules.append(_predict_check("unseen_category_scores", model, cfg, unseen, what))
    return rules


def _predict_check(name: str, model, cfg: DatasetConfig, frame, what: str) -> GateRule:
    expected = f"{len(frame)} finite"
    try:
        pred, proba = predict(model, frame, cfg)
    except Exception as err:  # any failure to score is a failed check, not a crash
        return _rule(name, expected, FAIL, f"{what}: {type(err).__name__}: {err}")
    values = np.asarray(proba if proba is not None else pred, dtype="float64")
    if values.shape != (len(frame),):
        return _rule(name, expected, FAIL, f"{what}: shape {values.shape}, expected ({len(frame)},)")
    if not np.all(np.isfinite(values)):
        return _rule(name, expected, FAIL, f"{what}: non-finite {values.tolist()}")
    if proba is not None and (values.min() < 0 or values.max() > 1):
        return _rule(name, expected, FAIL, f"{what}: probability outside [0, 1]")
    return _rule(name, expected, PASS, f"{what}: ok")
