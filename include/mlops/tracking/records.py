"""Read-side views: what the tracking pages show, built from the typed artifacts.

The lifecycle steps write typed, versioned artifacts (:mod:`mlops.artifacts`): a registry
:class:`~mlops.artifacts.VersionManifest`, :class:`~mlops.artifacts.ProductionPointer`,
:class:`~mlops.artifacts.AuditEvent` and :class:`~mlops.artifacts.Tombstone`; a candidate's
:class:`~mlops.artifacts.TrainingRecord`, :class:`~mlops.artifacts.CandidateMetrics` and
:class:`~mlops.artifacts.Blessing`; a monitoring
:class:`~mlops.artifacts.nightly.HistoryRecord`. The views here wrap those objects (never raw
JSON) and flatten what a table or a side-by-side diff needs. Reading is strict: a file of
another ``schema_version`` raises :class:`~mlops.errors.ArtifactSchemaError`, and the listing
views (:mod:`mlops.tracking.models`, :mod:`mlops.tracking.runs`) show such a file as a problem
instead of failing the whole page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlops.artifacts import (
    MODEL_FILE,
    PRODUCTION,
    AuditEvent,
    Blessing,
    CandidateMetrics,
    ProductionPointer,
    Tombstone,
    TrainingRecord,
    VersionManifest,
)
from mlops.artifacts.nightly import HistoryRecord
from mlops.tracking import paths

#: Comparable sections, in display order.
SECTIONS = ("model", "params", "metrics", "data window", "libraries", "code")


def finite(value: Any) -> float | None:
    """``value`` as a finite float, else ``None`` (NaN, inf, booleans and non-numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def metric_values(metrics: dict[str, Any] | None) -> dict[str, float | None]:
    """Sorted ``{metric: finite float or None}`` of a metrics dict (``None`` -> ``{}``)."""
    return {str(k): finite(v) for k, v in sorted((metrics or {}).items()) if not isinstance(v, dict | list)}


def _window(window: dict[str, Any] | None) -> dict[str, Any]:
    w = window or {}
    return {k: w[k] for k in ("start", "end", "window_days") if w.get(k) is not None}


# ---------------------------------------------------------------- registry
@dataclass(frozen=True)
class VersionInfo:
    """One registry version: its manifest (and tombstone, once retired), flattened for tables and diffs."""

    manifest: VersionManifest
    tombstone: Tombstone | None = None

    dataset = property(lambda self: self.manifest.dataset)
    version = property(lambda self: self.manifest.version)
    created_at = property(lambda self: self.manifest.created_at)
    run = property(lambda self: self.manifest.run)
    candidate_uri = property(lambda self: self.manifest.candidate_uri)
    estimator = property(lambda self: self.manifest.estimator)
    forced = property(lambda self: self.manifest.forced)
    params = property(lambda self: dict(self.manifest.params or {}))
    best_params = property(lambda self: dict(self.manifest.best_params or {}))
    libraries = property(lambda self: dict(self.manifest.libraries))
    code_version = property(lambda self: self.manifest.code_version.get("git_sha"))
    retired = property(lambda self: self.tombstone is not None)
    retired_at = property(lambda self: self.tombstone.retired_at if self.tombstone else None)

    @property
    def run_ref(self) -> str | None:
        """``<dataset>/<run_key>`` of the training run it was published from (see :mod:`mlops.tracking.runs`)."""
        return paths.run_ref(self.candidate_uri)

    @property
    def primary_metric(self) -> str | None:
        m = self.manifest
        return m.metrics.primary_metric if m.metrics else (m.blessing.primary_metric if m.blessing else None)

    @property
    def metrics(self) -> dict[str, float | None]:
        """The candidate's holdout metrics at publish time (``metrics.candidate.metrics``)."""
        m = self.manifest.metrics
        return metric_values(m.candidate.metrics) if m else {}

    @property
    def blessed(self) -> bool | None:
        return self.manifest.blessing.blessed if self.manifest.blessing else None

    @property
    def verdict(self) -> str | None:
        return self.manifest.blessing.verdict_line() if self.manifest.blessing else None

    @property
    def window(self) -> dict[str, Any]:
        data = self.manifest.training_data
        return _window(data.window) if data else {}

    @property
    def rows(self) -> int | None:
        return self.manifest.training_data.row_count if self.manifest.training_data else None

    @property
    def data_hash(self) -> str | None:
        return self.manifest.training_data.data_hash if self.manifest.training_data else None

    @property
    def size_bytes(self) -> int:
        return sum(a.size for a in self.manifest.artifacts.values())

    @property
    def model_bytes(self) -> int:
        return self.manifest.artifacts[MODEL_FILE].size

    @property
    def artifacts(self) -> dict[str, str]:
        """``{file name: s3:// URI}`` of the version's files (``model_card.html``, ``metrics.json`` ...)."""
        return {name: entry.uri for name, entry in sorted(self.manifest.artifacts.items())}

    @property
    def primary_value(self) -> float | None:
        return self.metrics.get(self.primary_metric) if self.primary_metric else None

    def comparable(self) -> dict[str, dict[str, Any]]:
        """``{section: {key: value}}`` for side-by-side diffs (see :data:`SECTIONS`)."""
        return {
            "model": {"estimator": self.estimator, "run_id": self.run.get("run_id"), "blessed": self.blessed},
            "params": {
                **{f"param {k}": v for k, v in self.params.items()},
                **{f"best {k}": v for k, v in self.best_params.items()},
                "seed": self.manifest.seed,
            },
            "metrics": dict(self.metrics),
            "data window": {**self.window, "rows": self.rows, "data_hash": self.data_hash},
            "libraries": dict(self.libraries),
            "code": {"git_sha": self.code_version},
        }

    def to_dict(self) -> dict[str, Any]:
        names = (
            "dataset",
            "version",
            "created_at",
            "run",
            "candidate_uri",
            "run_ref",
            "estimator",
            "primary_metric",
        )
        names += ("metrics", "blessed", "verdict", "forced", "window", "rows", "data_hash", "size_bytes")
        names += ("model_bytes", "params", "best_params", "libraries", "code_version", "artifacts")
        names += ("retired", "retired_at")
        return {
            **{n: getattr(self, n) for n in names},
            "seed": self.manifest.seed,
            "force_reason": self.manifest.force_reason,
        }


@dataclass(frozen=True)
class PointerMove:
    """One change of the production pointer.

    It comes from an S3 version of ``aliases/production.json`` (``s3_version_id``), from the
    audit trail (``audit``), or, normally, both. A move without an audit event, or one the
    bucket no longer holds a pointer version for, is shown with its :attr:`problem`.
    """

    pointer: ProductionPointer | None
    audit: AuditEvent | None
    s3_version_id: str | None = None
    current: bool = False
    #: False for an audited move older than the pointer versions read (not looked for).
    checked: bool = True

    def _get(self, name: str) -> Any:
        return getattr(self.pointer, name) if self.pointer else getattr(self.audit, name)

    sequence = property(lambda self: self._get("sequence"))
    version = property(lambda self: self._get("version"))
    action = property(lambda self: self._get("action"))
    actor = property(lambda self: self._get("actor"))
    reason = property(lambda self: self._get("reason"))
    forced = property(lambda self: bool(self._get("forced")))
    run = property(lambda self: self._get("run"))

    @property
    def previous_version(self) -> str | None:
        return self.pointer.previous_version if self.pointer else self.audit.from_version

    @property
    def time(self) -> str:
        return self.pointer.updated_at if self.pointer else self.audit.created_at

    @property
    def problem(self) -> str | None:
        if self.audit is None:
            return "no audit event for this move"
        if self.pointer is None:
            return "the bucket keeps no pointer version for this move" if self.checked else None
        if (self.audit.version, self.audit.from_version) != (
            self.pointer.version,
            self.pointer.previous_version,
        ):
            return (
                f"audit event says {self.audit.from_version} -> {self.audit.version}, "
                f"the pointer {self.pointer.previous_version} -> {self.pointer.version}"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        names = (
            "sequence",
            "version",
            "previous_version",
            "action",
            "actor",
            "reason",
            "forced",
            "run",
            "time",
        )
        return {
            **{n: getattr(self, n) for n in names},
            "s3_version_id": self.s3_version_id,
            "audited": self.audit is not None,
            "current": self.current,
            "problem": self.problem,
        }


def pointer_history(
    pointers: list[tuple[ProductionPointer, str]],
    audit: list[AuditEvent],
    alias: str = PRODUCTION,
    *,
    complete: bool = True,
) -> list[PointerMove]:
    """Every move of ``alias``, oldest first: the pointer's S3 versions joined with the audit trail.

    ``pointers`` are ``(pointer, S3 VersionId)`` pairs, newest first (the first is current);
    events are matched by their ``sequence``. ``complete=False`` says only the newest pointer
    versions were read: older moves then come from the audit trail without a complaint.
    """
    events = {e.sequence: e for e in audit if e.alias == alias and e.sequence is not None}
    current = pointers[0][0].sequence if pointers else None
    moves: dict[int, PointerMove] = {}
    for p, vid in pointers:  # newest first: a sequence written twice (a retried PUT) keeps its newest
        moves.setdefault(p.sequence, PointerMove(p, events.get(p.sequence), vid, p.sequence == current))
    oldest_read = min(moves) if moves and not complete else 0
    for seq, event in events.items():
        moves.setdefault(seq, PointerMove(None, event, checked=seq > oldest_read))
    return [moves[s] for s in sorted(moves)]


# ---------------------------------------------------------------- monitoring
@dataclass(frozen=True)
class NightInfo:
    """One monitored night (its ``history/<day>.json`` record) and its report page, if written."""

    record: HistoryRecord
    report_uri: str | None = None

    day = property(lambda self: self.record.day)
    verdict = property(lambda self: self.record.verdict)
    model_version = property(lambda self: self.record.model_version)
    fired = property(lambda self: list(self.record.fired))
    retrain = property(lambda self: self.record.retrain)
    drift_share = property(lambda self: finite(self.record.drift_share))
    drifted_features = property(lambda self: list(self.record.drifted_features))

    def to_dict(self) -> dict[str, Any]:
        names = ("day", "verdict", "model_version", "fired", "retrain", "drift_share", "drifted_features")
        return {**{n: getattr(self, n) for n in names}, "report_uri": self.report_uri}


# ---------------------------------------------------------------- training runs
@dataclass(frozen=True)
class RunInfo:
    """One training run: a candidate under ``candidates/<dataset>/<run_key>/``, blessed or not.

    ``training`` is ``None`` until training wrote ``training.json`` (last), ``metrics`` until
    evaluation ran, ``blessing`` until the gate ran. ``problems`` name files that could not be
    read as their artifact (another schema_version, corrupt JSON).
    """

    dataset: str
    run_key: str
    prefix: str
    files: list[str]
    training: TrainingRecord | None = None
    candidate_metrics: CandidateMetrics | None = None
    blessing: Blessing | None = None
    published_as: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``<dataset>/<run_key>``: how the CLI and the UI name a run."""
        return f"{self.dataset}/{self.run_key}"

    run = property(lambda self: dict(self.training.run) if self.training else {})
    written_at = property(lambda self: self.training.created_at if self.training else None)
    estimator = property(lambda self: self.training.estimator if self.training else None)
    params = property(lambda self: dict(self.training.estimator_params) if self.training else {})
    best_params = property(lambda self: dict(self.training.best_params) if self.training else {})
    window = property(lambda self: _window(self.training.window.to_dict()) if self.training else {})
    train_rows = property(lambda self: self.training.split.train_rows if self.training else None)
    holdout_rows = property(lambda self: self.training.split.holdout_rows if self.training else None)
    data_hash = property(lambda self: self.training.data_hash if self.training else None)
    model_bytes = property(lambda self: self.training.model_size if self.training else None)
    libraries = property(lambda self: dict(self.training.libraries) if self.training else {})
    primary_metric = property(
        lambda self: self.candidate_metrics.primary_metric if self.candidate_metrics else None
    )
    blessed = property(lambda self: self.blessing.blessed if self.blessing else None)
    verdict = property(lambda self: self.blessing.verdict_line() if self.blessing else None)
    failed = property(lambda self: list(self.blessing.failed) if self.blessing else [])

    @property
    def cv_best_score(self) -> float | None:
        return finite((self.training.cv or {}).get("best_score")) if self.training else None

    @property
    def metrics(self) -> dict[str, float | None]:
        return metric_values(self.candidate_metrics.candidate.metrics) if self.candidate_metrics else {}

    @property
    def production_metrics(self) -> dict[str, float | None]:
        prod = self.candidate_metrics.production if self.candidate_metrics else None
        return metric_values(prod.metrics) if prod else {}

    @property
    def status(self) -> str:
        if self.published_as:
            return f"published {self.published_as}"
        if self.blessed is True:
            return "blessed"
        if self.blessed is False:
            return "not blessed"
        return "evaluated" if self.candidate_metrics else ("trained" if self.training else "incomplete")

    @property
    def primary_value(self) -> float | None:
        return self.metrics.get(self.primary_metric) if self.primary_metric else None

    def comparable(self) -> dict[str, dict[str, Any]]:
        return {
            "model": {
                "estimator": self.estimator,
                "status": self.status,
                "dag_run": self.run.get("run_id"),
                "cv_best_score": self.cv_best_score,
            },
            "params": {
                **{f"param {k}": v for k, v in self.params.items()},
                **{f"best {k}": v for k, v in self.best_params.items()},
            },
            "metrics": dict(self.metrics),
            "data window": {
                **self.window,
                "train_rows": self.train_rows,
                "holdout_rows": self.holdout_rows,
                "data_hash": self.data_hash,
            },
            "libraries": dict(self.libraries),
        }

    def to_dict(self) -> dict[str, Any]:
        names = ("dataset", "run_key", "prefix", "files", "published_as", "problems", "ref", "status")
        names += ("run", "written_at", "estimator", "params", "best_params", "cv_best_score", "window")
        names += ("train_rows", "holdout_rows", "data_hash", "model_bytes", "libraries", "primary_metric")
        names += ("metrics", "production_metrics", "blessed", "verdict", "failed")
        return {n: getattr(self, n) for n in names}


# ---------------------------------------------------------------- side by side
@dataclass(frozen=True)
class Comparison:
    """Rows of ``(section, key, values...)`` for two or more items, plus whether the values differ."""

    labels: list[str]
    rows: list[tuple[str, str, list[Any]]]

    def changed(self) -> list[tuple[str, str, list[Any]]]:
        return [r for r in self.rows if _differs(r[2])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "rows": [{"section": s, "key": k, "values": v, "changed": _differs(v)} for s, k, v in self.rows],
        }


def _differs(values: list[Any]) -> bool:
    return len({repr(v) for v in values}) > 1


def side_by_side(items: list[dict[str, dict[str, Any]]], labels: list[str]) -> Comparison:
    """Align the ``comparable()`` dicts of several items into one :class:`Comparison`."""
    rows: list[tuple[str, str, list[Any]]] = []
    for section in SECTIONS:
        keys: list[str] = []
        for item in items:
            keys += [k for k in item.get(section, {}) if k not in keys]
        for key in keys:
            rows.append((section, key, [item.get(section, {}).get(key) for item in items]))
    return Comparison(labels=list(labels), rows=rows)
