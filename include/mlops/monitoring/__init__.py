"""Monitoring: data and prediction drift, performance decay, alert rules and the nightly report.

The reference side of every comparison is the version's reference profile
(:mod:`mlops.profiling`, written by training as ``reference_profile.json``); the nightly run
compares the current window with it and never re-reads the training data. Everything is
read and written through typed artifacts (:mod:`mlops.artifacts`): the published version
through :mod:`mlops.models`, the predictions through ``_SUCCESS``, the outputs as
:class:`~mlops.artifacts.DriftReport` and the classes of :mod:`mlops.artifacts.nightly`.

Modules: ``drift`` (+ ``drift_stats``: the statistics), ``performance``, ``alerts`` (rules
and the night's verdict), ``inputs`` (what the nightly run reads), ``nightly`` (the tasks
of ``mlops_monitoring``), ``report`` (+ ``charts``: the HTML page and its JSON twin) and
``adhoc`` (the ``mlops drift`` command).
"""

from mlops.monitoring.adhoc import drift_between, infer_feature_kinds
from mlops.monitoring.alerts import alert_block, consecutive_drift_nights, evaluate_rules, night_verdict
from mlops.monitoring.drift import (
    compare_categorical,
    compare_numeric,
    compute_drift,
    describe,
    summary_lines,
    thresholds_for,
)
from mlops.monitoring.drift_stats import holm, psi, psi_noise
from mlops.monitoring.inputs import (
    CurrentWindow,
    Reference,
    load_current_window,
    load_history,
    load_reference,
    read_labels,
    read_marker,
    read_predictions,
    window_days_list,
)
from mlops.monitoring.nightly import (
    evaluate_night,
    history_record,
    monitor_drift,
    monitor_performance,
    read_night,
    write_retrain_request,
)
from mlops.monitoring.performance import compute_performance, day_performance, metric_change
from mlops.monitoring.performance import summary_lines as performance_summary_lines
from mlops.monitoring.report import render_html, without_plots, write_report

__all__ = [
    "CurrentWindow",
    "Reference",
    "alert_block",
    "compare_categorical",
    "compare_numeric",
    "compute_drift",
    "compute_performance",
    "consecutive_drift_nights",
    "day_performance",
    "describe",
    "drift_between",
    "evaluate_night",
    "evaluate_rules",
    "history_record",
    "holm",
    "infer_feature_kinds",
    "load_current_window",
    "load_history",
    "load_reference",
    "metric_change",
    "monitor_drift",
    "monitor_performance",
    "night_verdict",
    "performance_summary_lines",
    "psi",
    "psi_noise",
    "read_labels",
    "read_marker",
    "read_night",
    "read_predictions",
    "render_html",
    "summary_lines",
    "thresholds_for",
    "window_days_list",
    "without_plots",
    "write_report",
    "write_retrain_request",
]
