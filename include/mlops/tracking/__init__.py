"""Read-only tracking views over the bucket: registered models and training runs.

``models`` lists every registered model (production pointer, versions, audit trail,
monitoring verdicts) and diffs two versions; ``runs`` lists every training run
(candidate, blessed or not) and compares runs side by side; ``viewer`` decides which
stored reports the UI may serve. Everything is read as the typed artifacts of
:mod:`mlops.artifacts` (``records`` flattens them for display). Nothing here writes to
S3 or imports Airflow or a lifecycle step: only the ground modules.
"""

from mlops.tracking.models import ModelDetail, ModelSummary, diff_versions, list_models, model_detail
from mlops.tracking.records import Comparison, NightInfo, PointerMove, RunInfo, VersionInfo
from mlops.tracking.runs import compare_runs, get_run, get_runs, list_runs, metric_table

__all__ = [
    "Comparison",
    "ModelDetail",
    "ModelSummary",
    "NightInfo",
    "PointerMove",
    "RunInfo",
    "VersionInfo",
    "compare_runs",
    "diff_versions",
    "get_run",
    "get_runs",
    "list_models",
    "list_runs",
    "metric_table",
    "model_detail",
]
