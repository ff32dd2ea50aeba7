"""What training records: the :class:`~mlops.artifacts.TrainingRecord` and the small result it hands on.

``training.json`` is written last, so a candidate with it is complete. The pieces built
here: the feature signature (the one description of the model's input), the canned
rows (the gate's behavioural inputs), the candidate key and the library versions.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import artifacts
from mlops.artifacts import FeatureColumn, FeatureSignature, TrainingRecord
from mlops.config import DatasetConfig
from mlops.models import feature_frame

if TYPE_CHECKING:
    import pandas as pd

CANNED_ROWS = 5


#: The dtype each feature kind is recorded with (what the batch column holds).
KIND_DTYPES = {"numeric": "float64", "categorical": "object", "boolean": "bool"}


def feature_signature(cfg: DatasetConfig) -> FeatureSignature:
    """The input the model expects: names, kinds (numeric, categorical, boolean), optional flags, and a hash."""
    columns = []
    for c in cfg.feature_columns:
        kind = cfg.features.kind_of(c) or "categorical"
        columns.append(FeatureColumn(c, kind, KIND_DTYPES[kind], c in cfg.features.optional))
    return FeatureSignature.of(columns)


def canned_rows(cfg: DatasetConfig, holdout: pd.DataFrame, n: int = CANNED_ROWS) -> list[dict[str, Any]]:
    """The first ``n`` holdout rows by id, features only, JSON-safe: the gate's behavioural inputs."""
    rows = holdout.sort_values(cfg.id_column, kind="mergesort").head(n)
    return [{k: jsonable(v) for k, v in rec.items()} for rec in feature_frame(rows, cfg).to_dict("records")]


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: numpy scalars as Python, non-finite floats and missing values as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def request_key(run_id: str, request: dict[str, Any]) -> str:
    """Candidate key: the run id plus a digest of the request, so a re-run with other Params never reuses it."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{run_id}__{digest}"


def config_sha256(cfg: DatasetConfig) -> str:
    return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()


def libraries() -> dict[str, str]:
    """The versions that made the model (python, sklearn, pandas, numpy)."""
    import pandas as pd
    import sklearn

    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


@dataclass(frozen=True)
class TrainingResult:
    """What the train step hands on (small, JSON-safe)."""

    dataset: str
    candidate_prefix: str
    model_uri: str
    training_uri: str
    reference_profile_uri: str
    estimator: str
    window: dict[str, Any]
    split: dict[str, Any]
    best_params: dict[str, Any]
    cv_best_score: float | None
    data_hash: str
    model_sha256: str
    fit_seconds: float
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, record: TrainingRecord, *, reused: bool) -> TrainingResult:
        prefix, window = record.candidate_uri, record.window
        return cls(
            dataset=record.dataset,
            candidate_prefix=prefix,
            model_uri=artifacts.model_uri(prefix),
            training_uri=artifacts.training_uri(prefix),
            reference_profile_uri=artifacts.reference_profile_uri(prefix),
            estimator=record.estimator,
            window={"start": window.start, "end": window.end, "window_days": window.window_days}
            | {"days": len(record.lineage)},
            split=record.split.to_dict(),
            best_params=record.best_params,
            cv_best_score=(record.cv or {}).get("best_score"),
            data_hash=record.data_hash,
            model_sha256=record.model_sha256,
            fit_seconds=record.fit_seconds,
            reused=reused,
        )

    def summary_lines(self) -> list[str]:
        s = self.split
        return [
            f"candidate {self.candidate_prefix} ({self.estimator}, sha256 {self.model_sha256[:12]})",
            f"train {s['train_start']}..{s['train_end']} ({s['train_rows']} rows), "
            f"holdout {s['holdout_start']}..{s['holdout_end']} ({s['holdout_rows']} rows)",
            f"best params {self.best_params} cv {self.cv_best_score}",
            f"data hash {self.data_hash[:16]}",
        ]
