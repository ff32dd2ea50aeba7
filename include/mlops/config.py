"""Dataset configuration: one YAML file per dataset under ``include/configs/``.

The file is validated when it is loaded. A typo or a bad value raises
:class:`ConfigError` naming the key, the value and the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2", "explained_variance")
#: Metrics where a lower value is better.
LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae"})

ESTIMATORS = {
    "classification": (
        "logistic_regression",
        "sgd_classifier",
        "random_forest",
        "hist_gradient_boosting",
        "dummy",
    ),
    "regression": ("ridge", "elastic_net", "random_forest", "hist_gradient_boosting", "dummy"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSpec(_Section):
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        if not self.all:
            raise ValueError("at least one numeric or categorical feature is required")
        dup = sorted(set(self.numeric) & set(self.categorical))
        if dup:
            raise ValueError(f"features listed as both numeric and categorical: {dup}")
        unknown = sorted(set(self.optional) - set(self.all))
        if unknown:
            raise ValueError(f"optional features {unknown} are not in numeric or categorical")
        return self


class SearchSpec(_Section):
    kind: Literal["grid", "random"] = "grid"
    cv: int = Field(3, ge=2, le=20)
    n_iter: int = Field(10, ge=1)
    scoring: str | None = None
    space: dict[str, list[Any]] = Field(default_factory=dict)


class EnsembleSpec(_Section):
    kind: Literal["voting", "stacking"]
    estimators: tuple[str, ...] = Field(min_length=2)


class ModelSpec(_Section):
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec | None = None
    ensemble: EnsembleSpec | None = None
    seed: int = 0


class TrainingSpec(_Section):
    window_days: int = Field(30, ge=2)
    holdout_days: int = Field(5, ge=1)
    slice_columns: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> TrainingSpec:
        if self.holdout_days >= self.window_days:
            raise ValueError(
                f"training.holdout_days ({self.holdout_days}) must be smaller than "
                f"training.window_days ({self.window_days})"
            )
        return self


class GateSpec(BaseModel):
    """Gate thresholds: ``primary_metric``, margins, and any ``min_<metric>``/``max_<metric>``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    primary_metric: str
    max_primary_regression: float = Field(0.0, ge=0)
    max_slice_regression: float | None = Field(None, ge=0)
    #: Slices with fewer holdout rows than this are reported but not gated (too noisy).
    min_slice_rows: int = Field(200, ge=1)

    @property
    def thresholds(self) -> dict[str, float]:
        """Absolute floors and ceilings, e.g. ``{"min_roc_auc": 0.7}``."""
        return {k: float(v) for k, v in (self.model_extra or {}).items()}


class ValidationSpec(_Section):
    """Inputs of the dataset's expectation suite (``mlops suites`` renders it to include/expectations/).

    ``max_null_fraction`` is the null tolerance of every column not listed in
    ``null_tolerance``. ``ranges`` are hard bounds (every non-null value inside);
    ``mean_ranges`` and ``quantile_ranges`` are distribution sanity bounds, wide
    enough for real drift but not for a broken export. ``target_mean_range`` is
    the class balance (positive rate) for a 0/1 target, the target mean otherwise.
    """

    min_rows: int = Field(1, ge=0)
    max_null_fraction: float = Field(0.05, ge=0, le=1)
    allow_extra_columns: bool = False
    null_tolerance: dict[str, float] = Field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    value_sets: dict[str, tuple[str | int | float, ...]] = Field(default_factory=dict)
    mean_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    quantile_ranges: dict[str, dict[float, tuple[float, float]]] = Field(default_factory=dict)
    target_values: tuple[str | int | float, ...] | None = None
    target_range: tuple[float | None, float | None] | None = None
    target_mean_range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check(self) -> ValidationSpec:
        for col, share in self.null_tolerance.items():
            if not 0 <= share <= 1:
                raise ValueError(f"validation.null_tolerance.{col} must be in [0, 1]; got {share}")
        bounds = {f"ranges.{k}": v for k, v in self.ranges.items()}
        bounds |= {f"mean_ranges.{k}": v for k, v in self.mean_ranges.items()}
        bounds |= {
            f"quantile_ranges.{k}.{q}": v for k, qs in self.quantile_ranges.items() for q, v in qs.items()
        }
        bounds |= {"target_range": self.target_range or (None, None)}
        bounds |= {"target_mean_range": self.target_mean_range or (None, None)}
        for key, (lo, hi) in bounds.items():
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(
                    f"validation.{key} is [{lo}, {hi}]: the lower bound is above the upper bound"
                )
        for col, qs in self.quantile_ranges.items():
            bad = [q for q in qs if not 0 <= q <= 1]
            if bad:
                raise ValueError(f"validation.quantile_ranges.{col} has quantiles {bad} outside [0, 1]")
        return self


class ScoringSpec(_Section):
    chunk_size: int = Field(50_000, ge=1)
    max_reject_fraction: float = Field(0.01, ge=0, le=1)
    max_shards: int = Field(32, ge=1)
    progress_interval_seconds: float = Field(5.0, gt=0)


class AlertRule(_Section):
    name: str
    kind: Literal["psi_top_features", "metric_drop", "dataset_drift", "consecutive_drift", "prediction_drift"]
    top_k: int | None = None
    threshold: float | None = None
    metric: str | None = None
    max_drop: float | None = None
    nights: int | None = None
    retrain: bool = False
    #: metric_drop: compare realised metrics only, CBPE estimates only, or realised else estimated.
    source: Literal["realised", "estimated", "any"] = "realised"

    @model_validator(mode="after")
    def _check(self) -> AlertRule:
        needs = {"metric_drop": ("metric", "max_drop"), "consecutive_drift": ("nights",)}
        missing = [k for k in needs.get(self.kind, ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"alert rule {self.name!r} of kind {self.kind} needs {missing}")
        return self


class MonitoringSpec(_Section):
    window_days: int = Field(3, ge=1)
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    p_value: float = Field(0.05, gt=0, lt=1)
    distance_alert: float = Field(0.1, gt=0)
    large_sample: int = Field(5000, ge=1)
    drift_share: float = Field(0.3, gt=0, le=1)
    weight_by_importance: bool = False
    per_feature: dict[str, dict[str, float]] = Field(default_factory=dict)
    alert_rules: tuple[AlertRule, ...] = ()
    #: A missing-rate change of at least this much (absolute) that is also significant is drift.
    missing_change_alert: float = Field(0.05, gt=0, le=1)
    #: Multiple-testing correction of small-sample p-values across features.
    p_value_adjust: Literal["holm", "none"] = "holm"
    #: Nights of history shown in trends and used by consecutive-drift rules.
    history_nights: int = Field(30, ge=1)
    #: Days back from the monitored date whose predictions get performance (realised or estimated).
    performance_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> MonitoringSpec:
        if self.psi_warn > self.psi_alert:
            raise ValueError(
                f"monitoring.psi_warn ({self.psi_warn}) must not exceed psi_alert ({self.psi_alert})"
            )
        allowed = {"psi_warn", "psi_alert", "p_value", "distance_alert", "missing_change_alert"}
        for feature, override in self.per_feature.items():
            unknown = sorted(set(override) - allowed)
            if unknown:
                raise ValueError(
                    f"monitoring.per_feature.{feature} has unknown keys {unknown}; allowed: {sorted(allowed)}"
                )
        return self


class RegistrySpec(_Section):
    """Registry retention: keep the newest ``keep_last`` versions; retire/delete only after ``grace_days``."""

    keep_last: int = Field(5, ge=1)
    grace_days: int = Field(7, ge=0)


class DatasetConfig(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    task: Literal["classification", "regression"]
    description: str = ""
    id_column: str
    date_column: str
    target: str
    #: The label that counts as positive in binary metrics and ``probability`` (e.g. ``1``, ``"bad"``,
    #: ``true``). Unset: ``True`` for booleans, ``1`` for 0/1, else the larger label (mlops.metrics).
    positive_class: bool | int | str | None = None
    label_delay_days: int = Field(0, ge=0)
    source: Literal["generated", "sklearn_diabetes", "sklearn_breast_cancer"] = "generated"
    features: FeatureSpec
    model: ModelSpec
    training: TrainingSpec = TrainingSpec()
    gate: GateSpec
    validation: ValidationSpec = ValidationSpec()
    scoring: ScoringSpec = ScoringSpec()
    monitoring: MonitoringSpec = MonitoringSpec()
    registry: RegistrySpec = RegistrySpec()

    @model_validator(mode="after")
    def _cross_checks(self) -> DatasetConfig:
        allowed = ESTIMATORS[self.task]
        names = [self.model.estimator] + list(self.model.ensemble.estimators if self.model.ensemble else [])
        for est in names:
            if est not in allowed:
                raise ValueError(
                    f"model.estimator {est!r} is not a {self.task} estimator; allowed: {list(allowed)}"
                )
        metrics = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        if self.gate.primary_metric not in metrics:
            raise ValueError(
                f"gate.primary_metric {self.gate.primary_metric!r} must be one of {list(metrics)}"
            )
        for key in self.gate.thresholds:
            prefix, _, metric = key.partition("_")
            if prefix not in ("min", "max") or metric not in metrics:
                raise ValueError(
                    f"gate.{key} is not a threshold; use min_<metric> or max_<metric> with a metric in {list(metrics)}"
                )
        reserved = {self.id_column, self.date_column, self.target}
        clash = sorted(reserved & set(self.features.all))
        if clash:
            raise ValueError(f"features {clash} clash with id_column/date_column/target")
        missing = sorted(set(self.training.slice_columns) - set(self.features.categorical))
        if missing:
            raise ValueError(f"training.slice_columns {missing} must be categorical features")
        self._check_positive_class()
        return self

    def _check_positive_class(self) -> None:
        if self.positive_class is None:
            return
        if self.task != "classification":
            raise ValueError(
                f"positive_class ({self.positive_class!r}) applies to classification only; "
                f"remove it for a {self.task} task"
            )
        allowed = self.validation.target_values
        same = [v for v in allowed or () if isinstance(v, str) == isinstance(self.positive_class, str)]
        if allowed is not None and self.positive_class not in same:
            raise ValueError(
                f"positive_class {self.positive_class!r} is not one of validation.target_values {list(allowed)}"
            )

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.features.all

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _format_error(err: ValidationError, path: Path) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<top level>"
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{loc}' (check the spelling)")
        elif e["type"] == "missing":
            lines.append(f"missing required key '{loc}'")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            value = e.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"key '{loc}': {msg}{shown}")
    return f"Invalid dataset config {path}: " + "; ".join(lines)


def config_path(dataset: str | os.PathLike[str]) -> Path:
    """Resolve a dataset name (``credit``) or a YAML path to a file path."""
    candidate = Path(dataset)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return CONFIG_DIR / f"{dataset}.yaml"


def available_datasets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_dataset_config(dataset: str | os.PathLike[str]) -> DatasetConfig:
    """Load and validate a dataset config by name or path.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or has an unknown, missing or bad key.
    """
    path = config_path(dataset)
    if not path.is_file():
        raise ConfigError(
            f"No dataset config {path}. Known datasets: {available_datasets()}; "
            f"add include/configs/<name>.yaml to create one."
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"Dataset config {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Dataset config {path} must be a mapping at the top level, got {type(raw).__name__}."
        )
    try:
        return DatasetConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err, path)) from err
