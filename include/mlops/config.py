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
from mlops.metric_names import CLASSIFICATION_METRICS as CLASSIFICATION_METRICS
from mlops.metric_names import (
    FAIRNESS_DEFAULT_GROUP_METRICS,
    FAIRNESS_GROUP_METRICS,
    FAIRNESS_MEASURES,
    not_a_disparity,
    split_disparity,
    target_kind,
    task_metrics,
)
from mlops.metric_names import LOWER_IS_BETTER as LOWER_IS_BETTER
from mlops.metric_names import REGRESSION_METRICS as REGRESSION_METRICS

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
#: Environment variables that move the two directories (tests, or a project keeping its configs elsewhere).
CONFIG_DIR_ENV, EXPECTATIONS_DIR_ENV = "MLOPS_CONFIG_DIR", "MLOPS_EXPECTATIONS_DIR"

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


def _same_scalar(a: Any, b: Any) -> bool:
    """Label equality as :mod:`mlops.metrics` has it: ``"1"`` is not ``1`` (but ``True == 1``)."""
    return isinstance(a, str) == isinstance(b, str) and a == b


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A scalar as written in YAML. ``bool`` comes first so that ``true``/``false`` stay booleans
#: (pydantic's smart union keeps the exact type), never ``1``/``0``.
Scalar = bool | int | float | str


class FeatureSpec(_Section):
    """Feature columns by kind: ``numeric`` (int/float), ``categorical`` (strings), ``boolean`` (bool).

    ``optional`` features may be null (their null tolerance is in ``validation:``); the model imputes them.
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.categorical + self.boolean

    def kind_of(self, column: str) -> str | None:
        """``numeric``, ``categorical``, ``boolean`` or None (not a feature)."""
        for kind in ("numeric", "categorical", "boolean"):
            if column in getattr(self, kind):
                return kind
        return None

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        if not self.all:
            raise ValueError("at least one numeric, categorical or boolean feature is required")
        seen: dict[str, str] = {}
        for kind in ("numeric", "categorical", "boolean"):
            for col in getattr(self, kind):
                if col in seen:
                    raise ValueError(f"feature {col!r} is listed as both {seen[col]} and {kind}")
                seen[col] = kind
        unknown = sorted(set(self.optional) - set(self.all))
        if unknown:
            raise ValueError(f"optional features {unknown} are not in numeric, categorical or boolean")
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


class FairnessSpec(_Section):
    """``fairness:``: disparities between sensitive groups, gated at evaluation and monitored nightly.

    ``sensitive_features`` are batch columns, model inputs or not (a missing value is its own
    group). ``group_metrics`` are computed per group (default: :data:`FAIRNESS_DEFAULT_GROUP_METRICS`
    of the target kind; which names a target has: :data:`FAIRNESS_GROUP_METRICS`; a multiclass
    target has no fairlearn measures). ``limits`` maps a disparity to its limit:
    a ceiling for ``*_difference`` and ``*_group_max``, a floor for ``*_ratio`` and
    ``*_group_min``; a disparity is a :data:`FAIRNESS_MEASURES` name or
    ``<group metric>_<aggregate>``. Each limit is a gate rule per sensitive feature; with
    ``max_regression`` set, a disparity worse than production's by more than it fails too.
    Groups with fewer than ``min_group_rows`` rows are reported but left out of disparities.
    """

    sensitive_features: tuple[str, ...] = Field(min_length=1)
    #: None: :data:`FAIRNESS_DEFAULT_GROUP_METRICS` of the target kind (see :meth:`group_metrics_for`).
    group_metrics: tuple[str, ...] | None = None
    limits: dict[str, float] = Field(default_factory=dict)
    max_regression: float | None = Field(0.02, ge=0)
    min_group_rows: int = Field(100, ge=1)

    def group_metrics_for(self, kind: str) -> tuple[str, ...]:
        """The configured group metrics, else the defaults of the :func:`target_kind` (binary when unknown)."""
        if self.group_metrics is not None:
            return self.group_metrics
        return FAIRNESS_DEFAULT_GROUP_METRICS.get(kind, FAIRNESS_DEFAULT_GROUP_METRICS["binary"])

    @model_validator(mode="after")
    def _check(self) -> FairnessSpec:
        known = sorted({m for ms in FAIRNESS_GROUP_METRICS.values() for m in ms})
        unknown = [m for m in self.group_metrics or () if m not in known]
        if unknown:
            raise ValueError(f"fairness.group_metrics {unknown} are not group metrics; allowed: {known}")
        for name, limit in self.limits.items():
            if split_disparity(name) is None:
                raise ValueError(not_a_disparity("fairness.limits", name))
            agg = next((a for a in ("ratio", "difference") if name.endswith("_" + a)), "")
            if agg == "ratio" and not 0 <= limit <= 1:
                raise ValueError(
                    f"fairness.limits.{name} is a ratio floor and must be in [0, 1]; got {limit}"
                )
            if agg == "difference" and limit < 0:
                raise ValueError(
                    f"fairness.limits.{name} is a difference ceiling and must be >= 0; got {limit}"
                )
        return self


class ValidationSpec(_Section):
    """Inputs of the dataset's expectation suite (``mlops suites`` renders it to include/expectations/).

    ``max_null_fraction`` is the null tolerance of every column not listed in
    ``null_tolerance``. ``ranges`` are hard bounds (every non-null value inside);
    ``mean_ranges`` and ``quantile_ranges`` are distribution sanity bounds, wide
    enough for real drift but not for a broken export. ``target_mean_range`` is
    the class balance (positive rate) for a 0/1 or boolean target, the target mean
    otherwise; ``class_shares`` bounds the share of rows of each listed class
    (multiclass or string labels). Values in ``value_sets``, ``target_values`` and
    the keys of ``class_shares`` keep their YAML type: ``true`` stays a boolean.
    """

    min_rows: int = Field(1, ge=0)
    max_null_fraction: float = Field(0.05, ge=0, le=1)
    allow_extra_columns: bool = False
    null_tolerance: dict[str, float] = Field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    value_sets: dict[str, tuple[Scalar, ...]] = Field(default_factory=dict)
    mean_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    quantile_ranges: dict[str, dict[float, tuple[float, float]]] = Field(default_factory=dict)
    target_values: tuple[Scalar, ...] | None = None
    target_range: tuple[float | None, float | None] | None = None
    target_mean_range: tuple[float, float] | None = None
    class_shares: dict[Scalar, tuple[float, float]] = Field(default_factory=dict)

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
        bounds |= {f"class_shares.{k}": v for k, v in self.class_shares.items()}
        for key, (lo, hi) in bounds.items():
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(
                    f"validation.{key} is [{lo}, {hi}]: the lower bound is above the upper bound"
                )
        for col, qs in self.quantile_ranges.items():
            bad = [q for q in qs if not 0 <= q <= 1]
            if bad:
                raise ValueError(f"validation.quantile_ranges.{col} has quantiles {bad} outside [0, 1]")
        for label, (lo, hi) in self.class_shares.items():
            if not (0 <= lo <= 1 and 0 <= hi <= 1):
                raise ValueError(f"validation.class_shares.{label} is [{lo}, {hi}]; shares must be in [0, 1]")
        return self


class ScoringSpec(_Section):
    chunk_size: int = Field(50_000, ge=1)
    max_reject_fraction: float = Field(0.01, ge=0, le=1)
    max_shards: int = Field(32, ge=1)
    progress_interval_seconds: float = Field(5.0, gt=0)


class AlertRule(_Section):
    name: str
    kind: Literal[
        "psi_top_features",
        "metric_drop",
        "dataset_drift",
        "consecutive_drift",
        "prediction_drift",
        "fairness_disparity",
    ]
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
        needs = {
            "metric_drop": ("metric", "max_drop"),
            "consecutive_drift": ("nights",),
            "fairness_disparity": ("metric", "threshold"),
        }
        missing = [k for k in needs.get(self.kind, ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"alert rule {self.name!r} of kind {self.kind} needs {missing}")
        if self.kind == "fairness_disparity" and split_disparity(str(self.metric)) is None:
            raise ValueError(not_a_disparity(f"alert rule {self.name!r}: metric", str(self.metric)))
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


class LabelsSpec(_Section):
    """Where a batch's labels are.

    ``in_features: false`` (default): labels land later in ``labels/dt=<day>/labels.parquet``
    (``label_delay_days`` after the batch) and are joined on the id column. ``in_features:
    true``: a labelled batch carries its ``target`` column in the features file itself; a batch
    that has the column is validated with the target checks, one without it as unlabelled.
    """

    in_features: bool = False


#: Not a dataset name: the ``dataset`` Param value that means every dataset.
RESERVED_NAME = "all"


class DatasetConfig(_Section):
    """One dataset: its columns, model, gate, validation, scoring, monitoring and registry settings.

    ``date_column`` is optional: the day of a batch is its partition (``dt=YYYY-MM-DD``);
    when set, the column must exist and be a datetime. ``id_type`` is the type of the id
    column: ``string`` (any string dtype) or ``integer`` (any signed/unsigned int dtype).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    task: Literal["classification", "regression"]
    description: str = ""
    id_column: str
    id_type: Literal["string", "integer"] = "string"
    date_column: str | None = None
    target: str
    labels: LabelsSpec = LabelsSpec()
    #: The label that counts as positive in binary metrics and ``probability`` (e.g. ``1``, ``"bad"``,
    #: ``true``). Unset: ``True`` for booleans, ``1`` for 0/1, else the larger label (mlops.metrics).
    positive_class: bool | int | str | None = None
    label_delay_days: int = Field(0, ge=0)
    source: Literal["generated", "sklearn_diabetes", "sklearn_breast_cancer", "sklearn_wine", "external"] = (
        "generated"
    )
    features: FeatureSpec
    model: ModelSpec
    training: TrainingSpec = TrainingSpec()
    gate: GateSpec
    validation: ValidationSpec = ValidationSpec()
    scoring: ScoringSpec = ScoringSpec()
    monitoring: MonitoringSpec = MonitoringSpec()
    registry: RegistrySpec = RegistrySpec()
    fairness: FairnessSpec | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> DatasetConfig:
        if self.name == RESERVED_NAME:
            raise ValueError(
                f"name {RESERVED_NAME!r} is reserved (the DAGs' 'every dataset' choice); pick another name"
            )
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
        reserved = [self.id_column, self.date_column, self.target]
        if len({c for c in reserved if c}) < sum(1 for c in reserved if c):
            raise ValueError(
                f"id_column ({self.id_column!r}), date_column ({self.date_column!r}) and target "
                f"({self.target!r}) must be different columns"
            )
        clash = sorted({c for c in reserved if c} & set(self.features.all))
        if clash:
            raise ValueError(f"features {clash} clash with id_column/date_column/target")
        sliceable = set(self.features.categorical) | set(self.features.boolean)
        missing = sorted(set(self.training.slice_columns) - sliceable)
        if missing:
            raise ValueError(f"training.slice_columns {missing} must be categorical or boolean features")
        drops = {r.name: str(r.metric) for r in self.monitoring.alert_rules if r.kind == "metric_drop"}
        unknown = {name: m for name, m in drops.items() if m not in metrics}
        if unknown:
            raise ValueError(
                f"monitoring.alert_rules {list(unknown)}: metric_drop metric(s) {list(unknown.values())} are not "
                f"metrics; use one of {list(metrics)}"
            )
        self._check_positive_class()
        self._check_class_shares()
        count, why = self.declared_classes
        problems = self.name_problems(target_kind(self.task, count), why)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def declared_classes(self) -> tuple[int | None, str]:
        """``(number of classes, where the config says so)``; ``(None, "")`` when it does not say.

        From ``validation.target_values``, else more than two ``validation.class_shares``, else
        ``positive_class`` (binary). Regression: ``(None, "")``.
        """
        if self.task != "classification":
            return None, ""
        values = self.validation.target_values
        if values is not None:
            return len(values), f"{len(values)} classes in validation.target_values {list(values)}"
        shares = list(self.validation.class_shares)
        if len(shares) > 2:
            return len(shares), f"{len(shares)} classes in validation.class_shares {shares}"
        if self.positive_class is not None:
            return 2, f"positive_class {self.positive_class!r} is set"
        return None, ""

    def name_problems(self, kind: str, why: str) -> list[str]:
        """What in this config does not fit a :func:`target_kind`: metric names (gate, ``metric_drop``
        alerts) and fairness names; one message each, naming the names, the kind, ``why`` and the fix."""
        allowed = task_metrics(kind)
        used = {"gate.primary_metric": self.gate.primary_metric}
        used |= {f"gate.{key}": key.partition("_")[2] for key in self.gate.thresholds}
        used |= {
            f"monitoring.alert_rules {r.name!r} metric": str(r.metric)
            for r in self.monitoring.alert_rules
            if r.kind == "metric_drop"
        }
        wrong = {key: name for key, name in used.items() if name not in allowed}
        because = f" ({why})" if why else ""
        problems = []
        if wrong:
            other = "binary" if kind == "multiclass" else "multiclass"
            listed = ", ".join(f"{key} {name!r}" for key, name in wrong.items())
            problems.append(
                f"{listed}: {other}-only metric(s), but the target is {kind}{because}; "
                f"use one of the {kind} metrics {list(allowed)}"
            )
        return problems + self.fairness_problems(kind, because)

    def fairness_problems(self, kind: str, because: str = "") -> list[str]:
        """The fairness names (group metrics, limits, fairness alert rules) a :func:`target_kind` does not have."""
        spec = self.fairness
        if spec is None or kind not in FAIRNESS_GROUP_METRICS:
            return []
        allowed = FAIRNESS_GROUP_METRICS[kind]
        alerts = [str(r.metric) for r in self.monitoring.alert_rules if r.kind == "fairness_disparity"]
        names = [*(spec.group_metrics or ()), *spec.limits, *alerts]
        wrong = []
        for name in dict.fromkeys(names):
            base = (split_disparity(name) or (name, ""))[0]
            if (name in FAIRNESS_MEASURES and kind != "binary") or (
                name not in FAIRNESS_MEASURES and base not in allowed
            ):
                wrong.append(name)
        if not wrong:
            return []
        measures = (
            f"; the fairlearn measures {list(FAIRNESS_MEASURES)} need a positive class (binary targets only)"
            if kind != "binary"
            else ""
        )
        return [
            f"fairness {wrong} do not apply to a {kind} dataset{because}; use the group metrics {list(allowed)} "
            f"(with _difference, _ratio, _group_min or _group_max){measures}"
        ]

    def _check_positive_class(self) -> None:
        if self.positive_class is None:
            return
        if self.task != "classification":
            raise ValueError(
                f"positive_class ({self.positive_class!r}) applies to classification only; "
                f"remove it for a {self.task} task"
            )
        allowed = self.validation.target_values
        same = [v for v in allowed or () if _same_scalar(v, self.positive_class)]
        if allowed is not None and not same:
            raise ValueError(
                f"positive_class {self.positive_class!r} is not one of validation.target_values {list(allowed)}"
            )
        if allowed is not None and len(allowed) > 2:
            raise ValueError(
                f"positive_class ({self.positive_class!r}) applies to binary targets; "
                f"validation.target_values has {len(allowed)} classes {list(allowed)}. Remove positive_class"
            )

    def _check_class_shares(self) -> None:
        shares = self.validation.class_shares
        if not shares:
            return
        if self.task != "classification":
            raise ValueError("validation.class_shares applies to classification only; use target_mean_range")
        allowed = self.validation.target_values
        unknown = [k for k in shares if allowed is not None and not any(_same_scalar(k, v) for v in allowed)]
        if unknown:
            raise ValueError(
                f"validation.class_shares names classes {unknown} that are not in validation.target_values "
                f"{list(allowed or ())}"
            )

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.features.all

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of an unlabelled batch: id, date (if any), then the features."""
        return (self.id_column, *((self.date_column,) if self.date_column else ()), *self.features.all)

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def check_names_against_classes(cfg: DatasetConfig, classes: Any) -> None:
    """The config's metric and fairness names fit a model with these ``classes`` (its ``classes_``).

    Config load checks them when the config declares its classes (:attr:`DatasetConfig.declared_classes`);
    evaluation calls this with the trained model's classes, so a config that does not declare them is
    checked before any model is scored or gated.

    Raises
    ------
    ConfigError
        One message per problem: the names, the number of classes, the names allowed.
    """
    if not cfg.is_classifier:
        return
    labels = [c.item() if hasattr(c, "item") else c for c in classes]
    why = f"the model has {len(labels)} classes {labels[:10]}"
    problems = cfg.name_problems(target_kind(cfg.task, len(labels)), why)
    if problems:
        raise ConfigError(f"{config_label(cfg.name)}: " + "; ".join(problems) + ".")


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


def config_dir() -> Path:
    """``include/configs/``, or ``$MLOPS_CONFIG_DIR`` when set."""
    return Path(os.environ.get(CONFIG_DIR_ENV) or CONFIG_DIR)


def config_label(dataset: str) -> str:
    """How messages name a dataset's config file: ``include/configs/<name>.yaml``, or the file under
    ``$MLOPS_CONFIG_DIR`` when that is set."""
    if os.environ.get(CONFIG_DIR_ENV):
        return str(config_dir() / f"{dataset}.yaml")
    return f"include/configs/{dataset}.yaml"


def expectations_dir() -> Path:
    """``include/expectations/``, or ``$MLOPS_EXPECTATIONS_DIR`` when set."""
    return Path(os.environ.get(EXPECTATIONS_DIR_ENV) or EXPECTATIONS_DIR)


def config_path(dataset: str | os.PathLike[str]) -> Path:
    """Resolve a dataset name (``credit``) or a YAML path to a file path."""
    candidate = Path(dataset)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return config_dir() / f"{dataset}.yaml"


def available_datasets() -> list[str]:
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


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
            f"create one with `mlops init NAME --sample FILE` (it writes {config_dir()}/NAME.yaml)."
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"Dataset config {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Dataset config {path} must be a mapping at the top level, got {type(raw).__name__}."
        )
    return parse_dataset_config(raw, path)


def parse_dataset_config(raw: dict[str, Any], path: str | os.PathLike[str]) -> DatasetConfig:
    """Validate a config mapping; ``path`` names it in the error.

    Raises
    ------
    ConfigError
        Naming every unknown, missing or bad key.
    """
    try:
        return DatasetConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err, Path(path))) from err
