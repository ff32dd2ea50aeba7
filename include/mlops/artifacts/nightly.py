"""Artifacts of the nightly monitoring run, after the drift report.

Locations (URI builders in :mod:`mlops.artifacts.monitoring`)::

    monitoring/<dataset>/<day>/performance.json          PerformanceReport
    monitoring/<dataset>/<day>/night.json                NightVerdict (tonight's verdict and rules)
    monitoring/<dataset>/<day>/report.json               MonitoringReport (twin of report.html)
    monitoring/<dataset>/history/<day>.json              HistoryRecord (one per night)
    monitoring/<dataset>/alerts/<day>.json               AlertEvent (only when a rule fired)
    monitoring/<dataset>/retrain_requests/<day>.json     RetrainRequest (the prefix is an Asset)

The former free-form ``context`` of the performance report is now typed fields
(``run_id``, ``window_days``, ``performance_uri``); the night's URIs are named fields.
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
    utc_now_iso,
)
from mlops.artifacts.monitoring import VERDICTS, DriftReport
from mlops.errors import ArtifactSchemaError

DAY_SOURCES = ("realised", "estimated", "unavailable")
#: Metrics shown in summaries, in this order.
SHOWN_METRICS = ("roc_auc", "roc_auc_ovr", "accuracy", "f1", "f1_macro", "rmse", "mae", "r2")


def check_day(owner: str, name: str, value: Any) -> None:
    """Raise :class:`ArtifactSchemaError` unless ``value`` is a ``YYYY-MM-DD`` day."""
    try:
        ok = isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        ok = False
    if not ok:
        raise ArtifactSchemaError(f"{owner}.{name} must be a day like 2026-02-17. Got {value!r} instead.")


# ---------------------------------------------------------------- performance.json
@dataclasses.dataclass(frozen=True)
class DayPerformance(Record):
    """Performance of one scored day: ``realised`` (labels arrived), ``estimated`` (CBPE) or ``unavailable``.

    ``metrics`` are the :mod:`mlops.metrics` values (plus ``n``/``positive_rate``);
    ``model_versions`` the versions whose predictions the day holds.
    """

    day: str
    source: str
    n: int
    metrics: dict[str, Any]
    model_versions: list[str]

    def __post_init__(self) -> None:
        check_choice("DayPerformance", "source", self.source, DAY_SOURCES)


@dataclasses.dataclass(frozen=True)
class PerformanceReport(Artifact):
    """``performance.json``: realised and estimated performance of the model vs its holdout metrics.

    ``baseline`` is the version's holdout metrics (``VersionManifest.holdout_metrics``);
    ``realised``/``estimated`` pool the labelled/unlabelled days (``n``, ``days`` and the
    metrics; empty when there were none). ``fairness`` (added without a schema bump; read as
    ``{}`` from files written before it) holds the realised per-group metrics and disparities
    of the labelled days per sensitive feature (:func:`mlops.fairness_metrics.group_fairness`).
    Derived key: ``summary`` (one line).
    """

    KIND: ClassVar[str] = "performance_report"
    DERIVED: ClassVar[tuple[str, ...]] = ("summary",)

    dataset: str
    day: str
    task: str
    model_version: str | None
    run_id: str | None
    window_days: int
    baseline: dict[str, float]
    days: list[DayPerformance]
    realised: dict[str, Any]
    estimated: dict[str, Any]
    performance_uri: str | None = None
    fairness: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_day("performance_report", "day", self.day)
        check_choice("performance_report", "task", self.task, ("classification", "regression"))

    @property
    def summary(self) -> str:
        """``realised (2 days, n=3000): roc_auc=0.812 vs holdout roc_auc=0.850; estimated ...``."""
        parts = []
        for source, values in (("realised", self.realised), ("estimated", self.estimated)):
            if not values.get("n"):
                continue
            shown = [m for m in SHOWN_METRICS if values.get(m) is not None][:3]
            text = ", ".join(f"{m}={values[m]:.3f}" for m in shown)
            base = ", ".join(f"{m}={self.baseline[m]:.3f}" for m in shown if m in self.baseline)
            parts.append(
                f"{source} ({values.get('days', 0)} days, n={values['n']}): {text} vs holdout {base or 'n/a'}"
            )
        return "; ".join(parts) or "no scored days in the performance window"

    def derived(self) -> dict[str, Any]:
        return {"summary": self.summary}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> PerformanceReport:
        if isinstance(data, dict) and "fairness" not in data:  # written before fairness existed
            data = {**data, "fairness": {}}
        return super().from_dict(data, source=source)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> PerformanceReport:
        fields["days"] = nested_list(DayPerformance, fields["days"], source, "days")
        return cls(**fields)


# ---------------------------------------------------------------- night.json
@dataclasses.dataclass(frozen=True)
class RuleOutcome(Record):
    """One configured alert rule evaluated on one night: fired or quiet, with the value it compared."""

    name: str
    kind: str
    fired: bool
    retrain: bool
    detail: str
    value: float | None = None
    threshold: float | None = None
    features: list[str] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        """``rule share (dataset_drift): drifted share 0.42 >= 0.3 (...) -> FIRED``."""
        return f"rule {self.name} ({self.kind}): {self.detail} -> {'FIRED' if self.fired else 'quiet'}"


@dataclasses.dataclass(frozen=True)
class NightVerdict(Artifact):
    """``night.json``: tonight's verdict (ALERT, WARN, OK), every rule's outcome and where things were written.

    ``drift_verdict`` is the drift report's own verdict; ``verdict`` adds the rules (a fired
    rule makes it ALERT). ``alert_uri`` is set only when a rule fired. Derived keys:
    ``fired`` (names of the fired rules) and ``retrain`` (a fired rule asks for retraining).
    """

    KIND: ClassVar[str] = "night_verdict"
    DERIVED: ClassVar[tuple[str, ...]] = ("fired", "retrain")

    dataset: str
    day: str
    verdict: str
    drift_verdict: str
    model_version: str | None
    run_id: str | None
    rules: list[RuleOutcome]
    report_uri: str
    report_json_uri: str
    history_uri: str
    night_uri: str
    alert_uri: str | None
    evaluated_at: str

    def __post_init__(self) -> None:
        check_day("night_verdict", "day", self.day)
        check_choice("night_verdict", "verdict", self.verdict, VERDICTS)
        check_choice("night_verdict", "drift_verdict", self.drift_verdict, VERDICTS)
        check_utc_iso("night_verdict", "evaluated_at", self.evaluated_at)

    @property
    def fired(self) -> list[str]:
        return [r.name for r in self.rules if r.fired]

    @property
    def retrain(self) -> bool:
        return any(r.fired and r.retrain for r in self.rules)

    @property
    def retrain_reasons(self) -> list[RuleOutcome]:
        """The fired rules that ask for retraining."""
        return [r for r in self.rules if r.fired and r.retrain]

    def derived(self) -> dict[str, Any]:
        return {"fired": self.fired, "retrain": self.retrain}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> NightVerdict:
        fields["rules"] = nested_list(RuleOutcome, fields["rules"], source, "rules")
        return cls(**fields)


# ---------------------------------------------------------------- alerts/<day>.json
@dataclasses.dataclass(frozen=True)
class AlertEvent(Artifact):
    """``alerts/<day>.json``: a monitoring alert (written only when a rule fired).

    ``rules`` are the fired rules; ``night_uri`` points to the full verdict. Derived: ``fired``.
    """

    KIND: ClassVar[str] = "monitoring_alert"
    DERIVED: ClassVar[tuple[str, ...]] = ("fired",)

    dataset: str
    day: str
    verdict: str
    model_version: str | None
    retrain: bool
    rules: list[RuleOutcome]
    report_uri: str
    night_uri: str
    run_id: str | None
    created_at: str

    def __post_init__(self) -> None:
        check_day("monitoring_alert", "day", self.day)
        check_choice("monitoring_alert", "verdict", self.verdict, VERDICTS)
        check_utc_iso("monitoring_alert", "created_at", self.created_at)

    @property
    def fired(self) -> list[str]:
        return [r.name for r in self.rules]

    def derived(self) -> dict[str, Any]:
        return {"fired": self.fired}

    @classmethod
    def of(cls, night: NightVerdict) -> AlertEvent:
        """The alert event of a night, created now."""
        return cls(
            dataset=night.dataset,
            day=night.day,
            verdict=night.verdict,
            model_version=night.model_version,
            retrain=night.retrain,
            rules=[r for r in night.rules if r.fired],
            report_uri=night.report_uri,
            night_uri=night.night_uri,
            run_id=night.run_id,
            created_at=utc_now_iso(),
        )

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> AlertEvent:
        fields["rules"] = nested_list(RuleOutcome, fields["rules"], source, "rules")
        return cls(**fields)


# ---------------------------------------------------------------- retrain_requests/<day>.json
@dataclasses.dataclass(frozen=True)
class RetrainRequest(Artifact):
    """``retrain_requests/<day>.json``: what the training DAG is asked to fix and why.

    ``reasons`` are the fired rules with ``retrain: true``; ``run_id`` (was
    ``requested_by``) is the monitoring run that asked.
    """

    KIND: ClassVar[str] = "retrain_request"

    dataset: str
    day: str
    model_version: str | None
    verdict: str
    reasons: list[RuleOutcome]
    report_uri: str
    night_uri: str
    run_id: str | None
    created_at: str

    def __post_init__(self) -> None:
        check_day("retrain_request", "day", self.day)
        check_choice("retrain_request", "verdict", self.verdict, VERDICTS)
        check_utc_iso("retrain_request", "created_at", self.created_at)
        if not self.reasons:
            raise ArtifactSchemaError(
                f"retrain_request of {self.dataset} {self.day} has no reasons; a request needs a fired rule "
                "with retrain: true (see night.json)."
            )

    @classmethod
    def of(cls, night: NightVerdict, *, run_id: str | None = None) -> RetrainRequest:
        """The request of a night whose retrain rules fired, created now."""
        return cls(
            dataset=night.dataset,
            day=night.day,
            model_version=night.model_version,
            verdict=night.verdict,
            reasons=night.retrain_reasons,
            report_uri=night.report_uri,
            night_uri=night.night_uri,
            run_id=run_id,
            created_at=utc_now_iso(),
        )

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> RetrainRequest:
        fields["reasons"] = nested_list(RuleOutcome, fields["reasons"], source, "reasons")
        return cls(**fields)


# ---------------------------------------------------------------- history/<day>.json
@dataclasses.dataclass(frozen=True)
class HistoryRecord(Artifact):
    """``history/<day>.json``: one night condensed, for trends and the consecutive-drift rule.

    ``psi`` is the noise-corrected PSI per feature; the performance fields are empty when
    the night had no performance report.
    """

    KIND: ClassVar[str] = "monitoring_history"

    dataset: str
    day: str
    verdict: str
    model_version: str | None
    fired: list[str]
    retrain: bool
    dataset_drift: bool
    drift_share: float | None = None
    drifted_features: list[str] = dataclasses.field(default_factory=list)
    psi: dict[str, float] = dataclasses.field(default_factory=dict)
    prediction_psi: float | None = None
    baseline: dict[str, float] = dataclasses.field(default_factory=dict)
    realised: dict[str, float] = dataclasses.field(default_factory=dict)
    estimated: dict[str, float] = dataclasses.field(default_factory=dict)
    days: list[DayPerformance] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        check_day("monitoring_history", "day", self.day)
        check_choice("monitoring_history", "verdict", self.verdict, VERDICTS)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> HistoryRecord:
        fields["days"] = nested_list(DayPerformance, fields["days"], source, "days")
        return cls(**fields)


# ---------------------------------------------------------------- report.json
@dataclasses.dataclass(frozen=True)
class MonitoringReport(Artifact):
    """``report.json``: the JSON twin of ``report.html`` (the same facts, plots left out).

    Embeds tonight's drift report (without plot data), performance report and verdict,
    each with its own schema_version, plus the history the page plotted (oldest first).
    """

    KIND: ClassVar[str] = "monitoring_report"

    dataset: str
    day: str
    verdict: str
    report_uri: str
    drift: DriftReport
    performance: PerformanceReport | None
    night: NightVerdict | None
    history: list[HistoryRecord]
    rendered_at: str

    def __post_init__(self) -> None:
        check_day("monitoring_report", "day", self.day)
        check_choice("monitoring_report", "verdict", self.verdict, VERDICTS)
        check_utc_iso("monitoring_report", "rendered_at", self.rendered_at)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> MonitoringReport:
        fields["drift"] = nested(DriftReport, fields["drift"], source, "drift")
        fields["performance"] = nested_optional(
            PerformanceReport, fields["performance"], source, "performance"
        )
        fields["night"] = nested_optional(NightVerdict, fields["night"], source, "night")
        fields["history"] = nested_list(HistoryRecord, fields["history"], source, "history")
        return cls(**fields)


__all__ = [
    "AlertEvent",
    "DayPerformance",
    "HistoryRecord",
    "MonitoringReport",
    "NightVerdict",
    "PerformanceReport",
    "RetrainRequest",
    "RuleOutcome",
]
