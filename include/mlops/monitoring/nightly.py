"""The nightly run in S3: drift, performance, the alert rules, the report and the retrain request.

Tasks of ``mlops_monitoring``, one function each, all writing typed artifacts under
``monitoring/<dataset>/``:

1. :func:`monitor_drift` -> ``<day>/drift.json`` (:class:`~mlops.artifacts.DriftReport`);
2. :func:`monitor_performance` -> ``<day>/performance.json``;
3. :func:`evaluate_night` -> ``<day>/night.json``, ``history/<day>.json``, ``<day>/report.html``
   + ``report.json`` and, when a rule fired, ``alerts/<day>.json``;
4. :func:`write_retrain_request` -> ``retrain_requests/<day>.json``.

Notification is the caller's job (Airflow notifiers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from mlops import artifacts
from mlops.artifacts import Artifact, DriftReport, NumericProfile, ReferenceProfile
from mlops.artifacts.nightly import AlertEvent, HistoryRecord, NightVerdict, PerformanceReport, RetrainRequest
from mlops.errors import ConfigError, InputReadError, RegistryError
from mlops.monitoring.alerts import evaluate_rules, night_verdict
from mlops.monitoring.drift import compute_drift
from mlops.monitoring.fairness import read_sensitive_days
from mlops.monitoring.inputs import (
    day_labels,
    load_current_window,
    load_history,
    load_reference,
    parse_day,
    read_predictions,
    window_days_list,
)
from mlops.monitoring.performance import compute_performance, numeric_only
from mlops.monitoring.report import write_report

if TYPE_CHECKING:
    from mlops.config import DatasetConfig

A = TypeVar("A", bound=Artifact)
Log = Callable[..., Any]


def _quiet(*_args: Any) -> None:
    return None


def _read_or_none(client: Any, uri: str, cls: type[A]) -> A | None:
    try:
        return artifacts.read_artifact(client, uri, cls)
    except InputReadError:
        return None


def prediction_column(preds: Any, cfg: DatasetConfig, profile: ReferenceProfile) -> Any:
    """The predictions column the profile's prediction entry describes (None if absent).

    A profile of predicted classes (multiclass) compares ``prediction``; a binary classifier's
    ``probability``; a regressor's ``prediction``.
    """
    scores = isinstance(profile.prediction, NumericProfile) and cfg.is_classifier
    col = "probability" if scores and "probability" in preds.columns else "prediction"
    return preds[col] if col in preds.columns else None


def _drift_reference(
    client: Any, bucket: str, cfg: DatasetConfig, version: str, reference_uri: str | None
) -> tuple[ReferenceProfile, dict[str, Any]]:
    """The profile to compare with and the report fields that describe it."""
    if reference_uri:
        profile = artifacts.read_artifact(client, reference_uri, ReferenceProfile)
        return profile, {"model_version": None, "reference_uri": reference_uri}
    ref = load_reference(client, bucket, cfg.name, version)
    return ref.profile, {
        "model_version": ref.version,
        "reference_uri": ref.profile_uri,
        "reference_window": ref.window,
        "manifest_created_at": ref.manifest.created_at,
    }


def monitor_drift(
    client: Any,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    window_days: int | None = None,
    version: str = "production",
    reference_uri: str | None = None,
    run_id: str | None = None,
    log: Log | None = None,
) -> DriftReport:
    """Data and prediction drift of the current window against the production model's profile.

    Writes ``monitoring/<ds>/<day>/drift.json``; :func:`evaluate_night` turns it into the
    report (``report.html`` + ``report.json``, whose URIs are in the drift report). With
    ``reference_uri`` the profile is read from there instead of from the published version.
    """
    say = log or _quiet
    day_s = parse_day(day).isoformat()
    n_days = int(window_days or cfg.monitoring.window_days)
    profile, facts = _drift_reference(client, bucket, cfg, version, reference_uri)
    say(
        "reference: model %s profile %s (%s rows, window %s)",
        facts["model_version"],
        facts["reference_uri"],
        profile.row_count,
        facts.get("reference_window") or "n/a",
    )
    window = load_current_window(client, bucket, cfg, day_s, n_days, model_version=facts["model_version"])
    for d, why in window.skipped.items():
        say("current window: skip %s: %s", d, why)
    say(
        "current window: %d/%d days %s (%d rows)",
        len(window.days),
        n_days,
        list(window.days),
        len(window.features),
    )
    scores = None
    preds = window.predictions
    if preds is not None and len(preds) and profile.prediction is not None:
        scores = prediction_column(preds, cfg, profile)
    drift_uri = artifacts.drift_uri(bucket, cfg.name, day_s)
    report = compute_drift(
        profile,
        window.features,
        cfg.monitoring,
        predictions=scores,
        day=day_s,
        run_id=run_id,
        current_window=window.describe(n_days),
        prediction_rows=int(len(preds)) if preds is not None else 0,
        drift_uri=drift_uri,
        report_uri=artifacts.report_uri(bucket, cfg.name, day_s),
        report_json_uri=artifacts.report_json_uri(bucket, cfg.name, day_s),
        **facts,
    )
    artifacts.write_artifact(client, drift_uri, report)
    return report


def monitor_performance(
    client: Any,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    days: int | None = None,
    version: str = "production",
    run_id: str | None = None,
    log: Log | None = None,
) -> PerformanceReport:
    """Realised (labelled days) and CBPE-estimated (unlabelled days) performance of recent scored days.

    The window is ``days`` (default ``monitoring.performance_days``, else
    ``window_days + label_delay_days``) ending at ``day``. Baseline = the version's holdout
    metrics (``VersionManifest.holdout_metrics``). Writes ``performance.json``.
    """
    say = log or _quiet
    day_s = parse_day(day).isoformat()
    n_days = int(days or cfg.monitoring.performance_days or cfg.monitoring.window_days + cfg.label_delay_days)
    model_version, baseline = None, {}
    try:
        ref = load_reference(client, bucket, cfg.name, version)
        model_version, baseline = ref.version, ref.baseline_metrics
    except (RegistryError, ConfigError) as err:
        say("no reference model (%s): performance without a baseline", err)
    scored = {}
    for d in window_days_list(day_s, n_days):
        preds = read_predictions(client, bucket, cfg.name, d)
        if preds is None:
            say("performance: skip %s (not scored)", d)
            continue
        scored[d] = (preds, day_labels(client, bucket, cfg, d))
    uri = artifacts.performance_uri(bucket, cfg.name, day_s)
    report = compute_performance(
        cfg,
        day_s,
        scored,
        baseline=baseline,
        model_version=model_version,
        run_id=run_id,
        window_days=n_days,
        performance_uri=uri,
        sensitive=read_sensitive_days(client, bucket, cfg, list(scored)),
    )
    artifacts.write_artifact(client, uri, report)
    return report


def history_record(night: NightVerdict, drift: DriftReport, perf: PerformanceReport | None) -> HistoryRecord:
    """Tonight condensed for trends and the consecutive-drift rule."""
    return HistoryRecord(
        dataset=night.dataset,
        day=night.day,
        verdict=night.verdict,
        model_version=night.model_version,
        fired=night.fired,
        retrain=night.retrain,
        dataset_drift=drift.dataset_drift,
        drift_share=drift.drift_share,
        drifted_features=drift.drifted_features,
        psi={f.feature: round(f.psi_adjusted, 6) for f in drift.features},
        prediction_psi=drift.prediction.psi_adjusted if drift.prediction else None,
        baseline=dict(perf.baseline) if perf else {},
        realised=numeric_only(perf.realised) if perf else {},
        estimated=numeric_only(perf.estimated) if perf else {},
        days=list(perf.days) if perf else [],
    )


def evaluate_night(
    client: Any,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    run_id: str | None = None,
    log: Log | None = None,
) -> NightVerdict:
    """Evaluate the alert rules on tonight's drift and performance, then write everything down.

    Reads ``drift.json`` (required) and ``performance.json`` (optional) of ``day``; writes
    ``night.json``, the history record, the report (HTML + JSON twin) and, when a rule
    fired, the alert event.
    """
    say = log or _quiet
    day_s = parse_day(day).isoformat()
    drift_uri = artifacts.drift_uri(bucket, cfg.name, day_s)
    drift = _read_or_none(client, drift_uri, DriftReport)
    if drift is None:
        raise InputReadError(f"No drift result {drift_uri}; run monitor_drift for {day_s} first.")
    perf = _read_or_none(client, artifacts.performance_uri(bucket, cfg.name, day_s), PerformanceReport)
    history = load_history(client, bucket, cfg.name, day_s, cfg.monitoring.history_nights)
    rules = evaluate_rules(
        cfg.monitoring.alert_rules,
        day=day_s,
        drift=drift,
        performance=perf,
        history=history,
        spec=cfg.monitoring,
    )
    for r in rules:
        say("%s", r.line())
    night = NightVerdict(
        dataset=cfg.name,
        day=day_s,
        verdict=night_verdict(drift, rules),
        drift_verdict=drift.verdict,
        model_version=drift.model_version or (perf.model_version if perf else None),
        run_id=run_id,
        rules=rules,
        report_uri=artifacts.report_uri(bucket, cfg.name, day_s),
        report_json_uri=artifacts.report_json_uri(bucket, cfg.name, day_s),
        history_uri=artifacts.history_uri(bucket, cfg.name, day_s),
        night_uri=artifacts.night_uri(bucket, cfg.name, day_s),
        alert_uri=artifacts.alert_uri(bucket, cfg.name, day_s) if any(r.fired for r in rules) else None,
        evaluated_at=artifacts.utc_now_iso(),
    )
    if night.alert_uri:
        artifacts.write_artifact(client, night.alert_uri, AlertEvent.of(night))
    record = history_record(night, drift, perf)
    artifacts.write_artifact(client, night.history_uri, record)
    artifacts.write_artifact(client, night.night_uri, night)
    write_report(
        client,
        bucket,
        cfg.name,
        day_s,
        drift=drift,
        performance=perf,
        night=night,
        history=[*history, record],
    )
    return night


def read_night(client: Any, bucket: str, dataset: str, day: date | str) -> NightVerdict:
    """Tonight's verdict (``night.json``); raises :class:`InputReadError` if the night was not evaluated."""
    uri = artifacts.night_uri(bucket, dataset, parse_day(day).isoformat())
    night = _read_or_none(client, uri, NightVerdict)
    if night is None:
        raise InputReadError(
            f"No night verdict {uri}; run the alert evaluation (evaluate_alerts) for that night first."
        )
    return night


def write_retrain_request(
    client: Any,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    run_id: str | None = None,
) -> tuple[str, RetrainRequest]:
    """Write the retrain request of a night whose retrain rules fired; returns ``(uri, request)``.

    Built from that night's ``night.json`` (the rules that fired with ``retrain: true``).

    Raises
    ------
    InputReadError
        If the night was not evaluated.
    ConfigError
        If no rule with ``retrain: true`` fired that night (there is nothing to request).
    """
    night = read_night(client, bucket, cfg.name, day)
    if not night.retrain:
        raise ConfigError(
            f"Night {night.day} of {cfg.name} fired no rule with retrain: true (fired: {night.fired or 'none'}); "
            "there is nothing to request. Only request a retrain when the night's 'retrain' is true."
        )
    uri = artifacts.retrain_request_uri(bucket, cfg.name, night.day)
    request = RetrainRequest.of(night, run_id=run_id)
    artifacts.write_artifact(client, uri, request)
    return uri, request
