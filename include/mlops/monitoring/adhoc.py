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


#: Why :func:`id_like_columns` leaves a column out.
ID_LIKE = "unique on every row: an id, not a feature; pass --dataset to use the config's feature list"


def id_like_columns(*frames: pd.DataFrame) -> list[str]:
    """Integer or text columns whose values are unique on every row (no nulls) of every frame given.

    Such a column is an id: its values never repeat, so every comparison of its distribution
    reports drift. Float columns are kept (a continuous measurement is often unique per row).
    """
    return [str(col) for col in frames[0].columns if all(_unique_on_every_row(f, col) for f in frames)]


def _unique_on_every_row(frame: pd.DataFrame, column: Any) -> bool:
    import pandas as pd

    if column not in frame.columns or len(frame) < 2:
        return False
    values = frame[column]
    kind = values.dtype
    text = pd.api.types.is_string_dtype(kind) or pd.api.types.is_object_dtype(kind)
    usable = (pd.api.types.is_integer_dtype(kind) and not pd.api.types.is_bool_dtype(kind)) or text
    return bool(usable and values.notna().all() and values.is_unique)


def drift_between(
    client: Any, reference_uri: str, current_uri: str, *, dataset: str | None = None
) -> DriftReport:
    """Drift of the table at ``current_uri`` against a table or a ``reference_profile.json`` at ``reference_uri``.

    With ``dataset`` its config gives the feature lists and thresholds; without it the
    columns' kinds are inferred, columns unique on every row of both tables (ids,
    :func:`id_like_columns`) are left out and recorded in ``excluded_columns``, and the
    default thresholds apply.
    """
    from mlops.config import MonitoringSpec, load_dataset_config

    cfg = load_dataset_config(dataset) if dataset else None
    spec = cfg.monitoring if cfg else MonitoringSpec()
    current = storage.read_table(client, current_uri)
    excluded: dict[str, str] = {}
    if str(reference_uri).endswith(".json"):
        profile = artifacts.read_artifact(client, reference_uri, ReferenceProfile)
    else:
        reference = storage.read_table(client, reference_uri)
        if cfg is not None:
            profile = build_reference_profile(reference, cfg)
        else:
            excluded = dict.fromkeys(id_like_columns(reference, current), ID_LIKE)
            numeric, categorical = infer_feature_kinds(reference, exclude=list(excluded))
            profile = profile_frame(reference, numeric, categorical)
    return compute_drift(
        profile,
        current,
        spec,
        reference_uri=str(reference_uri),
        current_uri=str(current_uri),
        excluded_columns=excluded,
    )
