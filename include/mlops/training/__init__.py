"""Training: a validated, labelled window of daily batches -> a candidate model in S3.

The steps, each a function so tests and the CLI can run them alone:

1. :func:`plan_window` (:mod:`~mlops.training.data`) lists the usable days of the window;
   :func:`load_training_data` reads those whose validation result says success, joins the
   labels (or takes them from the batch, ``labels: {in_features: true}``), splits off the
   holdout by partition day and records the lineage.
2. :func:`plan_model` and :func:`build_model` (:mod:`~mlops.training.pipeline`) make the
   ``Pipeline(ColumnTransformer, estimator)`` from the config, searched when the config asks;
   :func:`fit_model` (:mod:`~mlops.training.fit`) fits it.
3. :func:`train_candidate` runs all of it and writes ``model.skops``,
   ``reference_profile.json`` and ``training.json`` (:mod:`~mlops.training.record`) under
   :func:`mlops.artifacts.candidate_prefix`.

Using a model (``feature_frame``, ``target_array``, ``predict``, ``compute_threads``) is
ground, in :mod:`mlops.models`; the first two are re-exported here for convenience.
"""

from mlops.models import THREADS_ENV, compute_threads, feature_frame, target_array
from mlops.training.data import (
    InsufficientDataError,
    TrainingData,
    WindowPlan,
    data_hash,
    join_labels,
    labelled_rows,
    load_training_data,
    plan_window,
    resolve_window_days,
    row_order,
    validation_status,
)
from mlops.training.fit import (
    IMPORTANCE_MAX_ROWS,
    FitResult,
    fit_model,
    importance_scoring,
    permutation_importances,
    train_candidate,
)
from mlops.training.pipeline import (
    ESTIMATOR_NAMES,
    SEARCH_MODES,
    build_model,
    configured_classes,
    default_scoring,
    make_estimator,
    make_preprocessor,
    plan_model,
    search_scorer,
)
from mlops.training.record import (
    CANNED_ROWS,
    TrainingResult,
    canned_rows,
    feature_signature,
    request_key,
)

__all__ = [
    "CANNED_ROWS",
    "ESTIMATOR_NAMES",
    "IMPORTANCE_MAX_ROWS",
    "SEARCH_MODES",
    "THREADS_ENV",
    "FitResult",
    "InsufficientDataError",
    "TrainingData",
    "TrainingResult",
    "WindowPlan",
    "build_model",
    "canned_rows",
    "configured_classes",
    "compute_threads",
    "data_hash",
    "default_scoring",
    "feature_frame",
    "feature_signature",
    "fit_model",
    "importance_scoring",
    "join_labels",
    "labelled_rows",
    "load_training_data",
    "make_estimator",
    "make_preprocessor",
    "permutation_importances",
    "plan_model",
    "plan_window",
    "request_key",
    "resolve_window_days",
    "row_order",
    "search_scorer",
    "target_array",
    "train_candidate",
    "validation_status",
]
