"""Ad hoc drift (the ``mlops drift`` command, the benchmark): two tables, or a table and a stored profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops import artifacts, storage
from mlops.artifacts import DriftReport, ReferenceProfile
from mlops.monitoring.drift import compute_drift
from mlops.profiling import build_reference_profile, profile_frame

if TYPE_CHECKING:
    import pandas as pd


def infer_feature_kinds(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)`` columns of a frame (booleans and text are categorical; datetimes skipped)."""
    import pandas as pd

    numeric, categorical = [], []
    for col in frame.columns:
        if col in exclude:
            continue
        dtype = frame[col].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numeric.append(str(col))
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        else:
            categorical.append(str(col))
    return numeric, categorical


def drift_between(
    client: Any, reference_uri: str, current_uri: str, *, dataset: str | None = None
) -> DriftReport:
    """Drift of the table at ``current_uri`` against a table or a ``reference_profile.json`` at ``reference_uri``.

    With ``dataset`` its config gives the feature lists and thresholds; without it the
    columns' kinds are inferred and the default thresholds apply.
    """
    from mlops.config import MonitoringSpec, load_dataset_config

    cfg = load_dataset_config(dataset) if dataset else None
    spec = cfg.monitoring if cfg else MonitoringSpec()
    current = storage.read_table(client, current_uri)
    if str(reference_uri).endswith(".json"):
        profile = artifacts.read_artifact(client, reference_uri, ReferenceProfile)
    else:
        reference = storage.read_table(client, reference_uri)
        if cfg is not None:
            profile = build_reference_profile(reference, cfg)
        else:
            numeric, categorical = infer_feature_kinds(reference)
            profile = profile_frame(reference, numeric, categorical)
    return compute_drift(
        profile, current, spec, reference_uri=str(reference_uri), current_uri=str(current_uri)
    )
