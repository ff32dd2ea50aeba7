"""Artifacts of monitoring: the reference profile (written by training) and the nightly drift report.

Locations::

    <candidate or version prefix>/reference_profile.json   ReferenceProfile
    monitoring/<dataset>/<day>/drift.json                 DriftReport
    monitoring/<dataset>/<day>/performance.json           performance report
    monitoring/<dataset>/<day>/night.json                 tonight's verdict and rules
    monitoring/<dataset>/<day>/report.html, report.json   the rendered report and its JSON twin
    monitoring/<dataset>/history/<day>.json               one history record per night
    monitoring/<dataset>/alerts/<day>.json                an alert event, when a rule fired
    monitoring/<dataset>/retrain_requests/<day>.json      a retrain request (the prefix is an Asset)
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any, ClassVar

from mlops.artifacts.base import (
    Artifact,
    Record,
    check_choice,
    check_utc_iso,
    nested,
    nested_list,
    nested_optional,
)
from mlops.artifacts.layout import monitoring_prefix
from mlops.errors import ArtifactSchemaError

REFERENCE_PROFILE_FILE = "reference_profile.json"
DRIFT_FILE = "drift.json"
PERFORMANCE_FILE = "performance.json"
NIGHT_FILE = "night.json"
REPORT_HTML_FILE = "report.html"
REPORT_JSON_FILE = "report.json"
FEATURE_STATUSES = ("alert", "warn", "minor", "ok")
VERDICTS = ("ALERT", "WARN", "OK")
DRIFT_METHODS = ("ks", "wasserstein", "chi2", "jensenshannon")


# ---------------------------------------------------------------- URIs
def reference_profile_uri(prefix: str) -> str:
    """``<candidate or version prefix>/reference_profile.json``."""
    return (prefix if prefix.endswith("/") else prefix + "/") + REFERENCE_PROFILE_FILE


def monitoring_uri(bucket: str, dataset: str, day: date | str, name: str) -> str:
    """``s3://<bucket>/monitoring/<dataset>/<day>/<name>``."""
    return monitoring_prefix(bucket, dataset, day) + name


def drift_uri(bucket: str, dataset: str, day: date | str) -> str:
    return monitoring_uri(bucket, dataset, day, DRIFT_FILE)


def performance_uri(bucket: str, dataset: str, day: date | str) -> str:
    return monitoring_uri(bucket, dataset, day, PERFORMANCE_FILE)


def night_uri(bucket: str, dataset: str, day: date | str) -> str:
    return monitoring_uri(bucket, dataset, day, NIGHT_FILE)


def report_uri(bucket: str, dataset: str, day: date | str) -> str:
    return monitoring_uri(bucket, dataset, day, REPORT_HTML_FILE)


def report_json_uri(bucket: str, dataset: str, day: date | str) -> str:
    return monitoring_uri(bucket, dataset, day, REPORT_JSON_FILE)


def history_prefix(bucket: str, dataset: str) -> str:
    return f"s3://{bucket}/monitoring/{dataset}/history/"


def history_uri(bucket: str, dataset: str, day: date | str) -> str:
    return f"{history_prefix(bucket, dataset)}{day}.json"


def alert_uri(bucket: str, dataset: str, day: date | str) -> str:
    return f"s3://{bucket}/monitoring/{dataset}/alerts/{day}.json"


def retrain_requests_prefix(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/monitoring/<dataset>/retrain_requests/``: the retrain-request Asset URI."""
    return f"s3://{bucket}/monitoring/{dataset}/retrain_requests/"


def retrain_request_uri(bucket: str, dataset: str, day: date | str) -> str:
    return f"{retrain_requests_prefix(bucket, dataset)}{day}.json"


# ---------------------------------------------------------------- reference profile
@dataclasses.dataclass(frozen=True)
class NumericProfile(Record):
    """A numeric column (or the model's scores) on the reference rows.

    ``kind`` is ``numeric``, or ``probability`` for a classifier's positive-class scores
    (then ``positive_rate`` is the share >= 0.5; None otherwise). ``edges``/``bin_counts``
    are the PSI bins (reference quantiles), ``quantiles`` maps ``"0.01"``... to values,
    ``sketch`` is a 1,000-point quantile sketch. Statistics are None for an all-missing column.
    """

    kind: str
    count: int
    missing: int
    missing_rate: float
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict[str, float | None]
    edges: list[float]
    bin_counts: list[int]
    sketch: list[float]
    positive_rate: float | None = None

    def __post_init__(self) -> None:
        check_choice("NumericProfile", "kind", self.kind, ("numeric", "probability"))


@dataclasses.dataclass(frozen=True)
class CategoricalProfile(Record):
    """A categorical column on the reference rows: counts and frequencies per category (top 200)."""

    kind: str
    count: int
    missing: int
    missing_rate: float
    counts: dict[str, int]
    frequencies: dict[str, float]
    n_categories: int

    def __post_init__(self) -> None:
        check_choice("CategoricalProfile", "kind", self.kind, ("categorical",))


ColumnProfile = NumericProfile | CategoricalProfile


def _column(value: Any, source: str, path: str) -> ColumnProfile:
    if isinstance(value, NumericProfile | CategoricalProfile):
        return value
    kind = value.get("kind") if isinstance(value, dict) else None
    cls = CategoricalProfile if kind == "categorical" else NumericProfile
    return nested(cls, value, source, path)


@dataclasses.dataclass(frozen=True)
class ReferenceProfile(Artifact):
    """``reference_profile.json``: the training data summarised once for every later drift check.

    ``features`` maps each configured feature to its profile, ``prediction`` profiles the
    model's output: its scores (a :class:`NumericProfile`: the positive-class probability of a
    binary classifier, the value of a regressor) or, for a multiclass classifier, its predicted
    classes (a :class:`CategoricalProfile`; added without a schema bump, older files hold scores).
    ``target`` profiles the target (categorical for classifiers), ``importances``
    the permutation importances, largest first. The ``schema`` string
    (``mlops.reference_profile/v1``) is now ``kind`` + ``schema_version``.
    """

    KIND: ClassVar[str] = "reference_profile"

    dataset: str
    task: str
    row_count: int
    bins: int
    features: dict[str, ColumnProfile]
    prediction: ColumnProfile | None
    target: ColumnProfile | None
    importances: dict[str, float] | None

    def __post_init__(self) -> None:
        check_choice("reference_profile", "task", self.task, ("classification", "regression"))

    @property
    def feature_kinds(self) -> dict[str, str]:
        """``{feature: "numeric" | "categorical"}`` in profile order."""
        return {name: p.kind for name, p in self.features.items()}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> ReferenceProfile:
        feats = fields["features"]
        if not isinstance(feats, dict):
            raise ArtifactSchemaError(f"reference_profile at {source}: features must be an object.")
        fields["features"] = {str(k): _column(v, source, f"features.{k}") for k, v in feats.items()}
        prediction = fields["prediction"]
        fields["prediction"] = None if prediction is None else _column(prediction, source, "prediction")
        target = fields["target"]
        fields["target"] = None if target is None else _column(target, source, "target")
        return cls(**fields)


# ---------------------------------------------------------------- drift report
@dataclasses.dataclass(frozen=True)
class DriftThresholds(Record):
    """The limits one feature was judged against (``monitoring:`` defaults plus ``per_feature``)."""

    psi_warn: float
    psi_alert: float
    p_value: float
    distance_alert: float
    missing_change_alert: float


@dataclasses.dataclass(frozen=True)
class FeatureDrift(Record):
    """Drift of one feature, or of the predictions (``feature == "prediction"``).

    ``method`` is ``ks``/``chi2`` (small samples: ``score`` is the Holm-adjusted p-value,
    drift when ``score < threshold``) or ``wasserstein``/``jensenshannon`` (large samples:
    ``score`` is a distance, drift when ``score >= threshold``). ``status`` is the severity
    (alert, warn, minor, ok). The thresholds are nested (formerly ``psi_warn``/``psi_alert``
    at this level). Derived keys: ``psi_adjusted`` (PSI minus its no-drift noise, what the
    thresholds apply to) and ``missing_change``. ``plot`` holds the report's plot data.
    ``missing_z`` and ``missing_p_value`` are the missing-rate rule's two-proportion z-test
    (added without a schema bump; None when read from older files).
    """

    DERIVED: ClassVar[tuple[str, ...]] = ("psi_adjusted", "missing_change")

    feature: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float
    test_drift: bool
    psi: float
    psi_noise: float
    missing_rate_ref: float
    missing_rate_cur: float
    missing_drift: bool
    drift_detected: bool
    status: str
    n_ref: int
    n_cur: int
    thresholds: DriftThresholds
    unseen_count: int = 0
    unseen_share: float = 0.0
    unseen_categories: list[str] = dataclasses.field(default_factory=list)
    importance: float | None = None
    ref_summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    cur_summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    plot: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    missing_z: float | None = None
    missing_p_value: float | None = None

    def __post_init__(self) -> None:
        check_choice("FeatureDrift", "method", self.method, DRIFT_METHODS)
        check_choice("FeatureDrift", "status", self.status, FEATURE_STATUSES)

    @property
    def psi_adjusted(self) -> float:
        return max(0.0, self.psi - self.psi_noise)

    @property
    def missing_change(self) -> float:
        return self.missing_rate_cur - self.missing_rate_ref

    def derived(self) -> dict[str, Any]:
        return {"psi_adjusted": self.psi_adjusted, "missing_change": self.missing_change}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> FeatureDrift:
        if isinstance(data, dict):  # written before the missing-rate test statistic was recorded
            data = {"missing_z": None, "missing_p_value": None, **data}
        return super().from_dict(data, source=source)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> FeatureDrift:
        fields["thresholds"] = nested(DriftThresholds, fields["thresholds"], source, "thresholds")
        return cls(**fields)


_RANK = {status: i for i, status in enumerate(FEATURE_STATUSES)}


@dataclasses.dataclass(frozen=True)
class DriftReport(Artifact):
    """``drift.json``: data and prediction drift of the current window against a reference profile.

    The former free-form ``context`` is now typed fields: ``day`` (the night; None for an
    ad hoc comparison), ``model_version``, ``run_id``, ``reference_uri``,
    ``reference_window`` (``{start, end, window_days}`` of the training window),
    ``current_window`` (``{start, end, days, requested_days, skipped}``), ``current_uri``
    (ad hoc only), ``prediction_rows`` and the URIs of this report and its rendering.
    ``reference_rows``/``current_rows`` were duplicates of ``n_ref``/``n_cur``.
    ``excluded_columns`` maps columns left out of an ad hoc comparison to why (e.g. unique on
    every row: an id; added without a schema bump, ``{}`` when read from older files).
    Derived keys: ``drifted_features`` (drifted first, then by PSI) and ``prediction_drift``.
    """

    KIND: ClassVar[str] = "drift_report"
    DERIVED: ClassVar[tuple[str, ...]] = ("drifted_features", "prediction_drift")

    dataset: str
    day: str | None
    model_version: str | None
    run_id: str | None
    verdict: str
    dataset_drift: bool
    drift_share: float
    drift_share_limit: float
    weighted: bool
    n_ref: int
    n_cur: int
    p_value_adjust: str
    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    reference_uri: str | None = None
    reference_window: dict[str, Any] = dataclasses.field(default_factory=dict)
    current_window: dict[str, Any] = dataclasses.field(default_factory=dict)
    current_uri: str | None = None
    prediction_rows: int = 0
    manifest_created_at: str | None = None
    drift_uri: str | None = None
    report_uri: str | None = None
    report_json_uri: str | None = None
    excluded_columns: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("drift_report", "verdict", self.verdict, VERDICTS)
        check_choice("drift_report", "p_value_adjust", self.p_value_adjust, ("holm", "none"))
        check_utc_iso("drift_report", "manifest_created_at", self.manifest_created_at, optional=True)

    def sorted_features(self) -> list[FeatureDrift]:
        """Drifted first (alert, warn, minor, ok), then by PSI descending."""
        return sorted(self.features, key=lambda f: (not f.drift_detected, _RANK[f.status], -f.psi))

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.sorted_features() if f.drift_detected]

    @property
    def prediction_drift(self) -> bool:
        return bool(self.prediction and self.prediction.drift_detected)

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == name:
                return f
        raise KeyError(
            f"No feature {name!r} in the drift report; features: {[f.feature for f in self.features]}"
        )

    def derived(self) -> dict[str, Any]:
        return {"drifted_features": self.drifted_features, "prediction_drift": self.prediction_drift}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> DriftReport:
        if isinstance(data, dict) and "excluded_columns" not in data:  # written before the field existed
            data = {**data, "excluded_columns": {}}
        return super().from_dict(data, source=source)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> DriftReport:
        fields["features"] = nested_list(FeatureDrift, fields["features"], source, "features")
        fields["prediction"] = nested_optional(FeatureDrift, fields["prediction"], source, "prediction")
        return cls(**fields)
