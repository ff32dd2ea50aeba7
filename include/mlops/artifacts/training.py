"""Artifacts of training and evaluation: the training record, the candidate metrics, the blessing.

A candidate lives under :func:`mlops.artifacts.candidate_prefix`; publishing copies the same
files into ``models/<dataset>/versions/vNNNN/``, so every ``*_uri`` builder here takes either
prefix::

    model.skops               the fitted pipeline (skops)
    reference_profile.json    ReferenceProfile (mlops.artifacts.monitoring), written by training
    training.json             TrainingRecord, written LAST by training: the candidate is complete
    metrics.json              CandidateMetrics, written by evaluation
    model_card.html           the model card, written by evaluation (the gate stamps its verdict)
    blessing.json             Blessing, written by the gate

Naming rules: see :mod:`mlops.artifacts`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from mlops.artifacts.base import (
    Artifact,
    Record,
    check_choice,
    check_run,
    check_utc_iso,
    nested,
    nested_list,
    nested_optional,
    utc_now_iso,
)
from mlops.artifacts.scoring import FeatureSignature
from mlops.errors import ArtifactSchemaError

MODEL_FILE = "model.skops"
TRAINING_FILE = "training.json"
METRICS_FILE = "metrics.json"
BLESSING_FILE = "blessing.json"
MODEL_CARD_FILE = "model_card.html"


def _join(prefix: str, name: str) -> str:
    return (prefix if prefix.endswith("/") else prefix + "/") + name


def model_uri(prefix: str) -> str:
    """``<candidate or version prefix>/model.skops``."""
    return _join(prefix, MODEL_FILE)


def training_uri(prefix: str) -> str:
    """``<candidate or version prefix>/training.json``."""
    return _join(prefix, TRAINING_FILE)


def metrics_uri(prefix: str) -> str:
    """``<candidate or version prefix>/metrics.json``."""
    return _join(prefix, METRICS_FILE)


def blessing_uri(prefix: str) -> str:
    """``<candidate or version prefix>/blessing.json``."""
    return _join(prefix, BLESSING_FILE)


def model_card_uri(prefix: str) -> str:
    """``<candidate or version prefix>/model_card.html``."""
    return _join(prefix, MODEL_CARD_FILE)


# ---------------------------------------------------------------- training record
@dataclasses.dataclass(frozen=True)
class TrainingWindow(Record):
    """The planned window: ``window_days`` days ending at ``end``; ``days`` are those with a batch."""

    start: str
    end: str
    window_days: int
    days: list[str]
    batch_uris: list[str]
    skipped: dict[str, str]


@dataclasses.dataclass(frozen=True)
class TrainingSplit(Record):
    """The time split: the last ``holdout_days`` used days are the holdout.

    The positive rates are set for classifiers only (None for regression).
    """

    method: str
    train_days: list[str]
    holdout_days: list[str]
    train_start: str
    train_end: str
    holdout_start: str
    holdout_end: str
    train_rows: int
    holdout_rows: int
    train_positive_rate: float | None = None
    holdout_positive_rate: float | None = None


@dataclasses.dataclass(frozen=True)
class LineageDay(Record):
    """One day of training data: the exact S3 object versions read, their hashes and rows."""

    day: str
    split: str
    batch_uri: str
    batch_version_id: str | None
    batch_sha256: str
    batch_rows: int
    labels_uri: str
    labels_version_id: str | None
    labels_sha256: str
    labels_rows: int
    validation_uri: str | None
    joined_rows: int

    def __post_init__(self) -> None:
        check_choice("LineageDay", "split", self.split, ("train", "holdout"))


@dataclasses.dataclass(frozen=True)
class ModelPlan(Record):
    """What training decided to fit: estimator, its params, optional ensemble and search, seed, notes."""

    estimator: str
    params: dict[str, Any]
    ensemble: dict[str, Any] | None
    search: dict[str, Any] | None
    seed: int
    notes: list[str]


@dataclasses.dataclass(frozen=True)
class TrainingRecord(Artifact):
    """``training.json``: everything about one fitted candidate, written last by training.

    ``run`` is the run identity (``run_id`` required; ``dag_id``, ``try_number`` ... as the
    operator passes them). ``request`` is what was asked (``day``, ``window_days``,
    ``estimator``, ``search``). ``lineage`` + ``data_hash`` pin the exact data; the flat
    copies (``data_uris``, ``data_version_ids``, ``validation_uris``, ``row_counts``) are
    gone: see the properties and :class:`~mlops.artifacts.TrainingLineage`.
    ``libraries`` was ``versions``; ``model_size`` was ``model_bytes``; ``model_plan`` was
    ``model`` (with its duplicates ``estimator``, ``params``, ``seed`` at the top level).
    ``date_column`` is None for a dataset without one (the day of a row is its partition).
    """

    KIND: ClassVar[str] = "training_record"

    dataset: str
    task: str
    candidate_uri: str
    created_at: str
    run: dict[str, Any]
    request: dict[str, Any]
    window: TrainingWindow
    excluded_days: dict[str, str]
    split: TrainingSplit
    lineage: list[LineageDay]
    data_hash: str
    model_plan: ModelPlan
    estimator_params: dict[str, Any]
    best_params: dict[str, Any]
    cv: dict[str, Any] | None
    fit_seconds: float
    feature_signature: FeatureSignature
    target: str
    id_column: str
    date_column: str | None
    importances: dict[str, float]
    canned_rows: list[dict[str, Any]]
    model_uri: str
    model_version_id: str | None
    model_sha256: str
    model_size: int
    config: dict[str, Any]
    config_sha256: str
    libraries: dict[str, str]

    def __post_init__(self) -> None:
        check_utc_iso("training_record", "created_at", self.created_at)
        check_run("training_record", self.run)

    @property
    def run_id(self) -> str:
        return self.run["run_id"]

    @property
    def estimator(self) -> str:
        return self.model_plan.estimator

    @property
    def data_uris(self) -> list[str]:
        return [d.batch_uri for d in self.lineage] + [d.labels_uri for d in self.lineage]

    @property
    def data_version_ids(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for d in self.lineage:
            out[d.batch_uri] = d.batch_version_id
            out[d.labels_uri] = d.labels_version_id
        return out

    def lineage_of(self, split: str) -> list[LineageDay]:
        """The lineage days of one split (``train`` or ``holdout``)."""
        return [d for d in self.lineage if d.split == split]

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> TrainingRecord:
        fields["window"] = nested(TrainingWindow, fields["window"], source, "window")
        fields["split"] = nested(TrainingSplit, fields["split"], source, "split")
        fields["lineage"] = nested_list(LineageDay, fields["lineage"], source, "lineage")
        fields["model_plan"] = nested(ModelPlan, fields["model_plan"], source, "model_plan")
        fields["feature_signature"] = nested(
            FeatureSignature, fields["feature_signature"], source, "feature_signature"
        )
        return cls(**fields)


# ---------------------------------------------------------------- metrics
@dataclasses.dataclass(frozen=True)
class ModelEvaluation(Record):
    """One model's metrics on the holdout: overall, per slice ``{column: {value: {"n", "metrics"}}}``,
    and the confusion matrix ``{"labels", "matrix"}`` (classification only).

    ``fairness`` (added without a schema bump; read as ``{}`` from files written before it) is
    :func:`mlops.fairness_metrics.group_fairness` per sensitive feature:
    ``{feature: {"groups": {value: {"n", <group metric>...}}, "excluded": [...], "disparities": {...}}}``.
    """

    metrics: dict[str, float | None]
    slices: dict[str, dict[str, dict[str, Any]]]
    confusion_matrix: dict[str, Any] | None
    n_rows: int
    fairness: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> ModelEvaluation:
        if isinstance(data, dict) and "fairness" not in data:  # written before fairness existed
            data = {**data, "fairness": {}}
        return super().from_dict(data, source=source)


@dataclasses.dataclass(frozen=True)
class CandidateMetrics(Artifact):
    """``metrics.json``: candidate and production scored on the candidate's holdout.

    ``candidate.metrics`` is THE holdout metrics of a model: monitoring's performance
    baseline reads exactly that (``VersionManifest.metrics.candidate.metrics``, see
    :attr:`holdout_metrics`), never another key. ``production`` is None when there was no
    production model or it could not score (then ``baseline_error`` says why).
    """

    KIND: ClassVar[str] = "candidate_metrics"

    dataset: str
    task: str
    candidate_uri: str
    primary_metric: str
    holdout_start: str
    holdout_end: str
    holdout_days: list[str]
    holdout_rows: int
    data_hash: str
    candidate: ModelEvaluation
    production: ModelEvaluation | None
    baseline_version: str | None
    baseline_pointer_etag: str | None
    baseline_error: str | None
    evaluated_at: str

    def __post_init__(self) -> None:
        check_utc_iso("candidate_metrics", "evaluated_at", self.evaluated_at)

    @property
    def holdout_metrics(self) -> dict[str, float]:
        """The candidate's finite holdout metrics (the monitoring baseline)."""
        return {k: float(v) for k, v in self.candidate.metrics.items() if isinstance(v, int | float)}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> CandidateMetrics:
        fields["candidate"] = nested(ModelEvaluation, fields["candidate"], source, "candidate")
        fields["production"] = nested_optional(ModelEvaluation, fields["production"], source, "production")
        return cls(**fields)


# ---------------------------------------------------------------- blessing
PASS, FAIL, SKIP = "pass", "fail", "skip"
RULE_KINDS = ("floor", "production", "slice", "behaviour", "fairness")


@dataclasses.dataclass(frozen=True)
class GateRule(Record):
    """One row of the gate's verdict table. ``passed`` (derived) is ``verdict != "fail"``."""

    DERIVED: ClassVar[tuple[str, ...]] = ("passed",)

    rule: str
    kind: str
    metric: str | None
    candidate: float | None
    production: float | None
    threshold: str
    verdict: str
    detail: str = ""

    def __post_init__(self) -> None:
        check_choice("GateRule", "kind", self.kind, RULE_KINDS)
        check_choice("GateRule", "verdict", self.verdict, (PASS, FAIL, SKIP))

    @property
    def passed(self) -> bool:
        """Not failed (a skipped rule does not block)."""
        return self.verdict != FAIL

    def derived(self) -> dict[str, Any]:
        return {"passed": self.passed}


@dataclasses.dataclass(frozen=True)
class Blessing(Artifact):
    """``blessing.json``: the gate's decision on one candidate (a TFX-style blessing).

    ``candidate_uri`` (was ``candidate``) is the candidate prefix; ``model_sha256`` (was
    ``candidate_model_sha256``) the sha256 of its ``model.skops``. ``baseline_pointer_etag``
    is the production pointer ETag the decision compared against (promotion requires it
    unchanged). ``forced`` is true only when ``force`` was asked for an unblessed candidate.
    Derived keys: ``failed``, ``publish``, ``verdict`` (the verdict line).
    """

    KIND: ClassVar[str] = "blessing"
    DERIVED: ClassVar[tuple[str, ...]] = ("failed", "publish", "verdict")

    blessed: bool
    dataset: str
    candidate_uri: str
    model_sha256: str
    data_hash: str
    baseline_version: str | None
    baseline_pointer_etag: str | None
    primary_metric: str
    candidate_metrics: dict[str, float | None]
    production_metrics: dict[str, float | None] | None
    thresholds: dict[str, Any]
    rules: list[GateRule]
    forced: bool
    force_reason: str
    actor: str | None
    evaluation_id: str | None
    decided_at: str

    def __post_init__(self) -> None:
        check_utc_iso("blessing", "decided_at", self.decided_at)
        if self.blessed == bool(self.failed) or (self.forced and self.blessed):
            raise ArtifactSchemaError(
                f"blessing of {self.candidate_uri}: blessed={self.blessed}, forced={self.forced}, failed rules "
                f"{self.failed}; blessed must equal 'no rule failed' and forced needs an unblessed candidate."
            )

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.rules if r.verdict == FAIL]

    @property
    def behaviour_ok(self) -> bool:
        return all(r.verdict != FAIL for r in self.rules if r.kind == "behaviour")

    @property
    def publish(self) -> bool:
        """Publish if blessed; a forced candidate is published only if its behavioural checks pass."""
        return self.blessed or (self.forced and self.behaviour_ok)

    def verdict_line(self) -> str:
        """``VERDICT: BLESSED candidate=... champion=v0007 (4/4 checks)`` or ``NOT BLESSED ... failed=[...]``."""
        checked = [r for r in self.rules if r.verdict != SKIP]
        champion = self.baseline_version or "none"
        if self.blessed:
            return (
                f"VERDICT: BLESSED candidate={self.candidate_uri} champion={champion} "
                f"({len(checked)}/{len(checked)} checks)"
            )
        slices = [r for r in self.failed if r.startswith("slice ")]
        names = [r for r in self.failed if not r.startswith("slice ")]
        names += slices if len(slices) <= 2 else [f"{len(slices)} slices"]
        line = (
            f"VERDICT: NOT BLESSED candidate={self.candidate_uri} champion={champion} "
            f"failed=[{', '.join(names)}]"
        )
        if self.forced:
            line += (
                " FORCED: publishing anyway" if self.publish else " FORCE REFUSED: behavioural checks failed"
            )
        return line

    def derived(self) -> dict[str, Any]:
        return {"failed": self.failed, "publish": self.publish, "verdict": self.verdict_line()}

    @classmethod
    def new(cls, **fields: Any) -> Blessing:
        """A blessing decided now (``decided_at`` filled)."""
        return cls(**{"decided_at": utc_now_iso(), **fields})

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> Blessing:
        fields["rules"] = nested_list(GateRule, fields["rules"], source, "rules")
        return cls(**fields)
