"""Training: a validated, labelled window of daily batches -> a candidate model in S3.

The steps, each a function so tests and the CLI can run them alone:

1. :func:`plan_window` lists the days of the window (``window_days`` ending at the
   end date) whose batch exists and whose late labels have arrived and were due by
   the end date (``day + label_delay_days <= end``; a backfill never sees labels
   from its future).
2. :func:`load_training_data` reads those batches (only those whose validation
   result says success), joins the labels by id, splits off the most recent
   ``holdout_days`` days as the holdout and records the lineage: URIs, S3
   VersionIds, SHA-256 of every object, row counts and one data hash.
3. :func:`build_model` makes the ``Pipeline(ColumnTransformer, estimator)`` from
   the config, wrapped in ``GridSearchCV``/``RandomizedSearchCV`` when the
   config asks for a search; :func:`fit_model` fits it.
4. :func:`train_candidate` runs all of it and writes the candidate artifacts
   ``model.skops``, ``training.json`` and ``reference_profile.json`` under
   :func:`mlops.artifacts.candidate_prefix`.

The same data and config give the same model: every random state comes from
``model.seed`` and the rows are sorted before fitting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import artifacts, storage
from mlops._util import finite_float as _num
from mlops.config import ESTIMATORS, DatasetConfig
from mlops.errors import ConfigError, InputReadError, MLOpsError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Every estimator name a config (or the ``estimator`` Param) may use.
ESTIMATOR_NAMES: tuple[str, ...] = tuple(
    sorted(set(ESTIMATORS["classification"]) | set(ESTIMATORS["regression"]))
)
SEARCH_MODES = ("config", "none")
MODEL_FILE = "model.skops"
TRAINING_FILE = "training.json"
REFERENCE_PROFILE_FILE = "reference_profile.json"
#: Rows of the holdout used for permutation importance (keeps it to about a second).
IMPORTANCE_MAX_ROWS = 1000
IMPORTANCE_REPEATS = 3
CANNED_ROWS = 5
#: Native threads (OpenMP/BLAS) for fitting and scoring. One by default: on a small shared
#: machine, OpenMP threads that spin-wait for busy cores make HistGradientBoosting 2-6x slower.
THREADS_ENV = "MLOPS_TRAIN_THREADS"


class InsufficientDataError(MLOpsError, ValueError):
    """The window has too few usable (validated, labelled) days or rows to train. A retry will not help."""


@contextlib.contextmanager
def compute_threads(n: int | None = None) -> Iterator[int]:
    """Limit OpenMP/BLAS threads to ``n`` (default: env ``MLOPS_TRAIN_THREADS`` or 1)."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime so the limit applies to it)
    from threadpoolctl import threadpool_limits

    if n is None:
        raw = os.environ.get(THREADS_ENV, "1")
        try:
            n = max(1, int(raw))
        except ValueError as err:
            raise ConfigError(f"{THREADS_ENV} must be a positive integer. Got {raw!r} instead.") from err
    with threadpool_limits(limits=n):
        yield n


# ---------------------------------------------------------------- window
@dataclass(frozen=True)
class WindowPlan:
    """The days of one training window and why any were left out."""

    dataset: str
    bucket: str
    start: str
    end: str
    window_days: int
    days: list[str]
    batch_uris: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise ConfigError(f"The end date must be YYYY-MM-DD. Got {value!r} instead.") from err


def resolve_window_days(cfg: DatasetConfig, window_days: int | str | None) -> int:
    """``window_days`` from the Param, or ``training.window_days`` from the config."""
    if window_days in (None, "", "None", "null"):
        return cfg.training.window_days
    try:
        days = int(window_days)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"The 'window_days' parameter must be an integer. Got {window_days!r} instead."
        ) from err
    if days <= cfg.training.holdout_days:
        raise ConfigError(
            f"The 'window_days' parameter must be greater than training.holdout_days "
            f"({cfg.training.holdout_days}) of include/configs/{cfg.name}.yaml. Got {days} instead."
        )
    return days


def plan_window(
    client, cfg: DatasetConfig, *, bucket: str, end: date | str, window_days: int | str | None = None
) -> WindowPlan:
    """List the days in ``[end - window_days + 1, end]`` that have a batch and labels due by ``end``.

    Raises
    ------
    InsufficientDataError
        If fewer than ``holdout_days + 1`` days are usable.
    """
    end_day = _as_date(end)
    n_days = resolve_window_days(cfg, window_days)
    start_day = end_day - timedelta(days=n_days - 1)
    batches = _day_index(
        storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/features/"), "batch.parquet"
    )
    labels = _day_index(storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/labels/"), "labels.parquet")
    days, uris, skipped = [], [], {}
    for i in range(n_days):
        day = (start_day + timedelta(days=i)).isoformat()
        due = start_day + timedelta(days=i + cfg.label_delay_days)
        if day not in batches:
            skipped[day] = "no batch"
        elif due > end_day:
            skipped[day] = f"labels not due before {end_day} (label_delay_days={cfg.label_delay_days})"
        elif day not in labels:
            skipped[day] = "labels not arrived yet"
        else:
            days.append(day)
            uris.append(batches[day])
    plan = WindowPlan(
        cfg.name, bucket, start_day.isoformat(), end_day.isoformat(), n_days, days, uris, skipped
    )
    log.info(
        "window %s..%s (%d days): %d usable, %d skipped %s",
        plan.start,
        plan.end,
        n_days,
        len(days),
        len(skipped),
        _summarize_skips(skipped),
    )
    _require_days(cfg, days, f"window {plan.start}..{plan.end} in s3://{bucket}/data/{cfg.name}/")
    return plan


def _day_index(uris: list[str], filename: str) -> dict[str, str]:
    out = {}
    for uri in uris:
        if not uri.endswith("/" + filename):
            continue
        part = uri.rsplit("/", 2)[-2]
        if part.startswith("dt="):
            out[part[3:]] = uri
    return out


def _summarize_skips(skipped: dict[str, str]) -> str:
    by_reason: dict[str, list[str]] = {}
    for day, reason in skipped.items():
        by_reason.setdefault(reason, []).append(day)
    return "; ".join(f"{reason}: {_day_span(days)}" for reason, days in by_reason.items()) or "-"


def _day_span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def _require_days(cfg: DatasetConfig, days: list[str], where: str) -> None:
    need = cfg.training.holdout_days + 1
    if len(days) < need:
        raise InsufficientDataError(
            f"Only {len(days)} usable day(s) {days} in the {where}; need at least {need} "
            f"(training.holdout_days={cfg.training.holdout_days} for the holdout plus one to train). "
            "Seed or wait for more labelled batches, or raise window_days."
        )


# ---------------------------------------------------------------- data
@dataclass(frozen=True)
class TrainingData:
    """The joined window split by time, with its lineage. Frames stay in memory; never in XCom."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    split: dict[str, Any]
    lineage: list[dict[str, Any]]
    excluded: dict[str, str]
    data_hash: str


def feature_frame(df: pd.DataFrame, cfg: DatasetConfig) -> pd.DataFrame:
    """The model's input: the config's feature columns in config order.

    Categorical missing values (``None``, ``pd.NA``) become ``np.nan`` so the
    imputer sees them as missing. Raises :class:`ConfigError` naming absent columns.
    """
    import pandas as pd

    missing = [c for c in cfg.feature_columns if c not in df.columns]
    if missing:
        raise ConfigError(
            f"Feature columns {missing} from include/configs/{cfg.name}.yaml are not in the frame "
            f"(columns: {list(df.columns)[:25]})."
        )
    out = df.loc[:, list(cfg.feature_columns)].copy()
    for col in cfg.features.numeric:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in cfg.features.categorical:
        values = out[col].astype("object")
        out[col] = values.where(values.notna(), np.nan)
    return out


def target_array(df: pd.DataFrame, cfg: DatasetConfig) -> np.ndarray:
    y = df[cfg.target].to_numpy()
    return y.astype("int64") if cfg.is_classifier else y.astype("float64")


def _read_versioned(client, uri: str, version_id: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    data, head = storage.get_object(client, uri, version_id)
    frame = storage.read_table_bytes(data, uri)
    return frame, {
        "version_id": head.get("VersionId"),
        "sha256": storage.sha256_bytes(data),
        "rows": len(frame),
    }


def _validation_status(client, batch_uri: str) -> tuple[bool, str]:
    vuri = artifacts.validation_uri(batch_uri)
    try:
        doc = storage.get_json(client, vuri)
    except InputReadError:
        return False, "no validation result"
    if not isinstance(doc, dict) or doc.get("success") is not True:
        return False, "validation failed"
    return True, vuri


def load_training_data(
    client, cfg: DatasetConfig, plan: WindowPlan, *, require_validation: bool = True
) -> TrainingData:
    """Read the planned days, join labels by id, split the last ``holdout_days`` days off as holdout.

    Days without a successful validation result are left out (and recorded)
    when ``require_validation`` is true.
    """
    import pandas as pd

    frames, lineage, excluded = [], [], dict(plan.skipped)
    for day, batch_uri in zip(plan.days, plan.batch_uris, strict=True):
        validation_uri = None
        if require_validation:
            ok, detail = _validation_status(client, batch_uri)
            if not ok:
                excluded[day] = detail
                log.warning("skip %s: %s (%s)", day, detail, artifacts.validation_uri(batch_uri))
                continue
            validation_uri = detail
        features, f_meta = _read_versioned(client, batch_uri)
        labels_uri = artifacts.labels_uri(plan.bucket, cfg.name, day)
        labels, l_meta = _read_versioned(client, labels_uri)
        joined = _join_labels(cfg, features, labels, batch_uri, labels_uri)
        frames.append(joined)
        lineage.append(
            {
                "day": day,
                "batch_uri": batch_uri,
                "batch_version_id": f_meta["version_id"],
                "batch_sha256": f_meta["sha256"],
                "batch_rows": f_meta["rows"],
                "labels_uri": labels_uri,
                "labels_version_id": l_meta["version_id"],
                "labels_sha256": l_meta["sha256"],
                "labels_rows": l_meta["rows"],
                "validation_uri": validation_uri,
                "joined_rows": len(joined),
            }
        )
    used = [item["day"] for item in lineage]
    _require_days(cfg, used, f"validated, labelled part of window {plan.start}..{plan.end}")
    holdout_days = used[-cfg.training.holdout_days :]
    train_days = used[: -cfg.training.holdout_days]
    for item in lineage:
        item["split"] = "holdout" if item["day"] in holdout_days else "train"
    full = pd.concat(frames, ignore_index=True)
    day_of_row = full[cfg.date_column].astype("string").str[:10]
    train = full[~day_of_row.isin(holdout_days)].reset_index(drop=True)
    holdout = full[day_of_row.isin(holdout_days)].reset_index(drop=True)
    split = {
        "method": "time",
        "train_days": train_days,
        "holdout_days": holdout_days,
        "train_start": train_days[0],
        "train_end": train_days[-1],
        "holdout_start": holdout_days[0],
        "holdout_end": holdout_days[-1],
        "train_rows": len(train),
        "holdout_rows": len(holdout),
    }
    if cfg.is_classifier:
        split["train_positive_rate"] = round(float(train[cfg.target].mean()), 6)
        split["holdout_positive_rate"] = round(float(holdout[cfg.target].mean()), 6)
        classes = sorted(full[cfg.target].dropna().unique().tolist())
        if len(classes) > 2:
            raise ConfigError(
                f"Target '{cfg.target}' has {len(classes)} classes {classes[:10]}; only binary classification "
                f"is supported (metrics and the gate use the positive-class probability)."
            )
        if train[cfg.target].nunique() < 2:
            raise InsufficientDataError(
                f"The training split {train_days[0]}..{train_days[-1]} has a single class "
                f"{train[cfg.target].unique().tolist()} in '{cfg.target}'; cannot train a classifier. "
                "Widen the window."
            )
    log.info(
        "split by time: train %s..%s (%d days, %d rows), holdout %s..%s (%d days, %d rows)",
        split["train_start"],
        split["train_end"],
        len(train_days),
        len(train),
        split["holdout_start"],
        split["holdout_end"],
        len(holdout_days),
        len(holdout),
    )
    return TrainingData(train, holdout, split, lineage, excluded, data_hash(lineage))


def _join_labels(cfg: DatasetConfig, features, labels, batch_uri: str, labels_uri: str):
    for frame, uri, cols in (
        (features, batch_uri, [cfg.id_column, cfg.date_column]),
        (labels, labels_uri, [cfg.id_column, cfg.target]),
    ):
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise InputReadError(f"{uri} has no column(s) {absent}; columns are {list(frame.columns)[:25]}.")
        dup = int(frame[cfg.id_column].duplicated().sum())
        if dup:
            raise InputReadError(
                f"{uri} has {dup} duplicate '{cfg.id_column}' values; ids must be unique to join labels. "
                "Fix the upstream export."
            )
    joined = features.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
    joined = joined[joined[cfg.target].notna()]
    return joined.sort_values([cfg.date_column, cfg.id_column], kind="mergesort").reset_index(drop=True)


def data_hash(lineage: list[dict[str, Any]]) -> str:
    """One SHA-256 over the content hashes of every batch and label object used."""
    lines = [
        f"{i['batch_uri']}|{i['batch_sha256']}|{i['labels_uri']}|{i['labels_sha256']}"
        for i in sorted(lineage, key=lambda x: x["day"])
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def read_split(client, cfg: DatasetConfig, training_record: dict[str, Any], split: str = "holdout"):
    """Re-read one split exactly as trained: same object versions, checked against their SHA-256.

    Raises
    ------
    InputReadError
        If an object changed since training (hash mismatch) or is gone.
    """
    import pandas as pd

    frames = []
    for item in training_record["lineage"]:
        if item.get("split") != split:
            continue
        parts = []
        for kind in ("batch", "labels"):
            uri, version = item[f"{kind}_uri"], item.get(f"{kind}_version_id")
            frame, meta = _read_versioned(client, uri, version)
            if meta["sha256"] != item[f"{kind}_sha256"]:
                raise InputReadError(
                    f"{uri} (version {version}) has SHA-256 {meta['sha256'][:12]}..., but training recorded "
                    f"{item[f'{kind}_sha256'][:12]}...; the data changed since training. Retrain the candidate."
                )
            parts.append(frame)
        frames.append(_join_labels(cfg, parts[0], parts[1], item["batch_uri"], item["labels_uri"]))
    if not frames:
        raise InputReadError(f"The training record has no '{split}' days in its lineage.")
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- model
def _estimator_class(name: str, task: str):
    from sklearn import dummy, ensemble, linear_model

    classes = {
        ("logistic_regression", "classification"): linear_model.LogisticRegression,
        ("sgd_classifier", "classification"): linear_model.SGDClassifier,
        ("random_forest", "classification"): ensemble.RandomForestClassifier,
        ("random_forest", "regression"): ensemble.RandomForestRegressor,
        ("hist_gradient_boosting", "classification"): ensemble.HistGradientBoostingClassifier,
        ("hist_gradient_boosting", "regression"): ensemble.HistGradientBoostingRegressor,
        ("ridge", "regression"): linear_model.Ridge,
        ("elastic_net", "regression"): linear_model.ElasticNet,
        ("dummy", "classification"): dummy.DummyClassifier,
        ("dummy", "regression"): dummy.DummyRegressor,
    }
    try:
        return classes[(name, task)]
    except KeyError:
        raise ConfigError(
            f"The 'estimator' parameter must be a {task} estimator in {list(ESTIMATORS[task])}. Got {name!r} instead."
        ) from None


def _defaults(name: str, task: str, seed: int, l1: bool) -> dict[str, Any]:
    """Fast, deterministic defaults; the config's ``model.params`` override them."""
    if name == "logistic_regression":
        return {"max_iter": 2000, "random_state": seed, "solver": "saga" if l1 else "lbfgs"}
    if name == "sgd_classifier":
        return {"loss": "log_loss", "random_state": seed, "max_iter": 2000, "tol": 1e-4}
    if name == "random_forest":
        return {"n_estimators": 100, "min_samples_leaf": 5, "random_state": seed, "n_jobs": 1}
    if name == "hist_gradient_boosting":
        return {"random_state": seed}
    if name in ("ridge", "elastic_net"):
        return {"random_state": seed}
    if name == "dummy":
        return {"strategy": "prior"} if task == "classification" else {"strategy": "mean"}
    return {}


def _logistic_penalty(params: dict[str, Any]) -> dict[str, Any]:
    """Translate ``penalty: l1|l2|elasticnet`` (deprecated in sklearn 1.8) to ``l1_ratio``."""
    params = dict(params)
    penalty = params.pop("penalty", None)
    if penalty is None:
        return params
    ratios = {"l2": 0.0, "l1": 1.0}
    if penalty == "elasticnet":
        params.setdefault("l1_ratio", 0.5)
    elif penalty in ratios:
        params["l1_ratio"] = ratios[penalty]
    else:
        raise ConfigError(
            f"The 'penalty' parameter of logistic_regression must be one of ['l1', 'l2', 'elasticnet']. "
            f"Got {penalty!r} instead."
        )
    return params


def make_estimator(
    name: str, task: str, *, params: dict[str, Any] | None = None, seed: int = 0, l1: bool = False
):
    """One estimator by config name with the defaults of :func:`_defaults` and ``params`` on top.

    Raises :class:`ConfigError` for an unknown name or parameter.
    """
    cls = _estimator_class(name, task)
    params = dict(params or {})
    if name == "logistic_regression":
        params = _logistic_penalty(params)
        l1 = l1 or float(params.get("l1_ratio", 0) or 0) > 0
    if name == "sgd_classifier" and params.get("loss", "log_loss") != "log_loss":
        raise ConfigError(
            f"The 'loss' parameter of sgd_classifier must be 'log_loss' (the gate needs predict_proba). "
            f"Got {params['loss']!r} instead."
        )
    merged = {**_defaults(name, task, seed, l1), **params}
    valid = set(cls().get_params())
    unknown = sorted(set(merged) - valid)
    if unknown:
        raise ConfigError(
            f"Parameter(s) {unknown} are not parameters of {cls.__name__} ({name}); "
            f"valid: {sorted(valid)}. Fix model.params in the dataset config."
        )
    return cls(**merged)


def make_preprocessor(cfg: DatasetConfig):
    """``ColumnTransformer``: median impute (+ missing indicator) and scale numerics; impute and one-hot categoricals."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if cfg.features.numeric:
        numeric = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        transformers.append(("numeric", numeric, list(cfg.features.numeric)))
    if cfg.features.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical, list(cfg.features.categorical)))
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True
    )


@dataclass(frozen=True)
class ModelPlan:
    """What :func:`build_model` decided: estimator, params, search. JSON-safe."""

    estimator: str
    params: dict[str, Any]
    ensemble: dict[str, Any] | None
    search: dict[str, Any] | None
    seed: int
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_model(cfg: DatasetConfig, *, estimator: str | None = None, search: str = "config") -> ModelPlan:
    """Resolve the config plus the Param overrides into one :class:`ModelPlan`.

    An ``estimator`` override that differs from ``model.estimator`` trains that
    single estimator with its defaults: the config's ``params``, ``search`` space
    and ``ensemble`` belong to ``model.estimator`` (a parameter name can mean
    something else on another estimator, e.g. ``learning_rate``).
    """
    if search not in SEARCH_MODES:
        raise ConfigError(
            f"The 'search' parameter must be one of {list(SEARCH_MODES)}. Got {search!r} instead."
        )
    spec, task, notes = cfg.model, cfg.task, []
    override = estimator not in (None, "", "None", "null") and str(estimator) != spec.estimator
    name = str(estimator) if override else spec.estimator
    _estimator_class(name, task)
    params, ensemble, search_plan = {}, None, None
    if override:
        notes.append(
            f"estimator override {name!r} (config: {spec.estimator!r}): using its defaults; "
            "config params, search and ensemble not applied"
        )
    else:
        params = dict(spec.params)
        if spec.ensemble:
            ensemble = {"kind": spec.ensemble.kind, "estimators": list(spec.ensemble.estimators)}
        if spec.search is not None and search == "config" and spec.search.space:
            search_plan = {
                "kind": spec.search.kind,
                "cv": spec.search.cv,
                "n_iter": spec.search.n_iter,
                "scoring": spec.search.scoring or default_scoring(cfg),
                "space": dict(spec.search.space),
            }
        elif spec.search is not None:
            notes.append("search disabled by the 'search' parameter; fitting the config params as given")
    return ModelPlan(name, params, ensemble, search_plan, spec.seed, notes)


def default_scoring(cfg: DatasetConfig) -> str:
    return "roc_auc" if cfg.is_classifier else "neg_root_mean_squared_error"


def _search_key(key: str, plan: ModelPlan) -> str:
    if key.startswith(("model__", "preprocess__")):
        return key
    if plan.ensemble:
        return f"model__{plan.estimator}__{key}"
    return f"model__{key}"


def build_model(cfg: DatasetConfig, plan: ModelPlan):
    """The unfitted model: ``Pipeline(preprocess, model)``, inside a search CV when planned."""
    from sklearn.model_selection import GridSearchCV, ParameterGrid, RandomizedSearchCV, TimeSeriesSplit
    from sklearn.pipeline import Pipeline

    task, seed = cfg.task, plan.seed
    l1 = bool(plan.search and any(float(v or 0) > 0 for v in plan.search["space"].get("l1_ratio", [])))
    if plan.ensemble:
        members = [
            (
                name,
                make_estimator(
                    name,
                    task,
                    params=plan.params if name == plan.estimator else None,
                    seed=seed,
                    l1=l1 and name == plan.estimator,
                ),
            )
            for name in plan.ensemble["estimators"]
        ]
        model = _make_ensemble(plan.ensemble["kind"], task, members, seed)
    else:
        model = make_estimator(plan.estimator, task, params=plan.params, seed=seed, l1=l1)
    pipeline = Pipeline([("preprocess", make_preprocessor(cfg)), ("model", model)])
    if not plan.search:
        return pipeline
    space = {_search_key(k, plan): list(v) for k, v in plan.search["space"].items()}
    valid = set(pipeline.get_params())
    unknown = sorted(k for k in space if k not in valid)
    if unknown:
        raise ConfigError(
            f"model.search.space keys {unknown} are not parameters of the pipeline for {plan.estimator!r} "
            f"in include/configs/{cfg.name}.yaml; use a parameter name of the estimator (e.g. "
            f"{sorted(k.removeprefix('model__') for k in valid if k.startswith('model__') and k.count('__') == 1)[:8]})."
        )
    cv = TimeSeriesSplit(n_splits=plan.search["cv"])
    common = {
        "scoring": plan.search["scoring"],
        "cv": cv,
        "n_jobs": 1,
        "refit": True,
        "error_score": "raise",
        "verbose": 3,  # one stdout line per fit (fold, params, score, time): progress in the task log
    }
    if plan.search["kind"] == "grid":
        return GridSearchCV(pipeline, space, **common)
    n_iter = min(plan.search["n_iter"], len(ParameterGrid(space)))
    return RandomizedSearchCV(pipeline, space, n_iter=n_iter, random_state=seed, **common)


def _make_ensemble(kind: str, task: str, members: list, seed: int):
    from sklearn import ensemble, linear_model
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        if kind == "voting":
            return ensemble.VotingClassifier(members, voting="soft", n_jobs=1)
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        final = linear_model.LogisticRegression(max_iter=2000, random_state=seed)
        return ensemble.StackingClassifier(members, final_estimator=final, cv=cv, n_jobs=1)
    if kind == "voting":
        return ensemble.VotingRegressor(members, n_jobs=1)
    cv = KFold(n_splits=3, shuffle=True, random_state=seed)
    return ensemble.StackingRegressor(members, final_estimator=linear_model.RidgeCV(), cv=cv, n_jobs=1)


@dataclass(frozen=True)
class FitResult:
    model: Any  # the fitted Pipeline (best estimator when searched)
    plan: ModelPlan
    best_params: dict[str, Any]
    cv: dict[str, Any] | None
    fit_seconds: float


def fit_model(cfg: DatasetConfig, train: pd.DataFrame, plan: ModelPlan) -> FitResult:
    """Fit the planned model on the training split (rows in date, id order)."""
    from sklearn.model_selection import ParameterGrid

    model = build_model(cfg, plan)
    X, y = feature_frame(train, cfg), target_array(train, cfg)
    if plan.search:
        n = getattr(model, "n_iter", None) or len(ParameterGrid(model.param_grid))
        log.info(
            "search %s: %d candidate(s) x %d time-series folds = %d fits on %d rows, scoring %s",
            plan.search["kind"],
            n,
            plan.search["cv"],
            n * plan.search["cv"],
            len(X),
            plan.search["scoring"],
        )
    else:
        log.info("fit %s on %d rows (no search)", plan.estimator, len(X))
    started = time.perf_counter()
    with compute_threads():
        model.fit(X, y)
    seconds = round(time.perf_counter() - started, 3)
    cv_info, best = None, {}
    if plan.search:
        res = model.cv_results_
        order = np.argsort(res["rank_test_score"], kind="stable")
        cv_info = {
            "scoring": plan.search["scoring"],
            "best_score": _num(model.best_score_),
            "candidates": [
                {
                    "params": _jsonable(res["params"][i]),
                    "mean": _num(res["mean_test_score"][i]),
                    "std": _num(res["std_test_score"][i]),
                    "rank": int(res["rank_test_score"][i]),
                }
                for i in order
            ],
        }
        best = _jsonable({k.removeprefix("model__"): v for k, v in model.best_params_.items()})
        for c in cv_info["candidates"]:
            log.info(
                "cv candidate rank %d: %s = %.4f +/- %.4f %s",
                c["rank"],
                plan.search["scoring"],
                c["mean"],
                c["std"],
                c["params"],
            )
        log.info(
            "best %s %.4f with %s (search took %.1fs)",
            plan.search["scoring"],
            model.best_score_,
            best,
            seconds,
        )
        model = model.best_estimator_
    else:
        log.info("fitted %s in %.1fs", plan.estimator, seconds)
    return FitResult(model, plan, best, cv_info, seconds)


# ---------------------------------------------------------------- predictions and records
def positive_class(model) -> Any:
    return model.classes_[-1]


def predict(model, cfg: DatasetConfig, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """``(prediction, probability of the positive class or None)`` for a raw frame."""
    X = feature_frame(frame, cfg)
    if cfg.is_classifier:
        proba = model.predict_proba(X)
        idx = list(model.classes_).index(positive_class(model))
        return model.classes_[np.argmax(proba, axis=1)], proba[:, idx]
    return np.asarray(model.predict(X), dtype="float64"), None


def permutation_importances(model, cfg: DatasetConfig, frame: pd.DataFrame, *, seed: int) -> dict[str, float]:
    """Mean drop of the primary metric when each raw feature is shuffled (on up to 1,000 holdout rows)."""
    from sklearn.inspection import permutation_importance

    sample = (
        frame if len(frame) <= IMPORTANCE_MAX_ROWS else frame.sample(IMPORTANCE_MAX_ROWS, random_state=seed)
    )
    X, y = feature_frame(sample, cfg), target_array(sample, cfg)
    scoring = default_scoring(cfg) if not cfg.is_classifier or len(np.unique(y)) > 1 else "accuracy"
    with compute_threads():
        result = permutation_importance(
            model, X, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=1
        )
    pairs = sorted(zip(X.columns, result.importances_mean, strict=True), key=lambda p: -p[1])
    return {str(col): round(float(v), 6) for col, v in pairs}


def feature_signature(cfg: DatasetConfig) -> dict[str, Any]:
    """The input the model expects: names, kinds, optional flags, and a hash of them."""
    columns = [
        {
            "name": c,
            "kind": "numeric" if c in cfg.features.numeric else "categorical",
            "dtype": "float64" if c in cfg.features.numeric else "object",
            "optional": c in cfg.features.optional,
        }
        for c in cfg.feature_columns
    ]
    digest = hashlib.sha256(json.dumps(columns, sort_keys=True).encode()).hexdigest()
    return {"columns": columns, "sha256": digest}


def canned_rows(cfg: DatasetConfig, holdout: pd.DataFrame, n: int = CANNED_ROWS) -> list[dict[str, Any]]:
    """The first ``n`` holdout rows by id, features only, JSON-safe: the gate's behavioural inputs."""
    rows = holdout.sort_values(cfg.id_column, kind="mergesort").head(n)
    return [{k: _jsonable(v) for k, v in rec.items()} for rec in feature_frame(rows, cfg).to_dict("records")]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def request_key(run_id: str, request: dict[str, Any]) -> str:
    """Candidate key: the run id plus a digest of the request, so a re-run with other Params never reuses it."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{run_id}__{digest}"


# ---------------------------------------------------------------- the whole step
@dataclass(frozen=True)
class TrainingResult:
    """What the train step hands on (small, JSON-safe)."""

    dataset: str
    candidate_prefix: str
    model_uri: str
    training_uri: str
    reference_profile_uri: str
    estimator: str
    window: dict[str, Any]
    split: dict[str, Any]
    best_params: dict[str, Any]
    cv_best_score: float | None
    data_hash: str
    model_sha256: str
    fit_seconds: float
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        s = self.split
        return [
            f"candidate {self.candidate_prefix} ({self.estimator}, sha256 {self.model_sha256[:12]})",
            f"train {s['train_start']}..{s['train_end']} ({s['train_rows']} rows), "
            f"holdout {s['holdout_start']}..{s['holdout_end']} ({s['holdout_rows']} rows)",
            f"best params {self.best_params} cv {self.cv_best_score}",
            f"data hash {self.data_hash[:16]}",
        ]


def _result_from_record(record: dict[str, Any], prefix: str, reused: bool) -> TrainingResult:
    return TrainingResult(
        dataset=record["dataset"],
        candidate_prefix=prefix,
        model_uri=prefix + MODEL_FILE,
        training_uri=prefix + TRAINING_FILE,
        reference_profile_uri=prefix + REFERENCE_PROFILE_FILE,
        estimator=record["model"]["estimator"],
        window={k: record["window"][k] for k in ("start", "end", "window_days")}
        | {"days": len(record["lineage"])},
        split=record["split"],
        best_params=record["best_params"],
        cv_best_score=(record.get("cv") or {}).get("best_score"),
        data_hash=record["data_hash"],
        model_sha256=record["model_sha256"],
        fit_seconds=record["fit_seconds"],
        reused=reused,
    )


def train_candidate(
    client,
    cfg: DatasetConfig,
    *,
    bucket: str,
    end: date | str,
    run_id: str,
    window_days: int | str | None = None,
    estimator: str | None = None,
    search: str = "config",
    run: dict[str, Any] | None = None,
) -> TrainingResult:
    """Plan the window, load and split it, fit, and write the candidate's artifacts.

    Idempotent: the candidate key is ``<run_id>__<digest of the request>``; if its
    ``training.json`` (written last) exists, nothing is retrained.
    """
    from mlops import monitoring, serialization

    plan = plan_window(client, cfg, bucket=bucket, end=end, window_days=window_days)
    mplan = plan_model(cfg, estimator=estimator, search=search)
    request = {
        "end": plan.end,
        "window_days": plan.window_days,
        "estimator": mplan.estimator,
        "search": search,
        "config": cfg.to_dict(),
    }
    prefix = artifacts.candidate_prefix(bucket, cfg.name, request_key(run_id, request))
    training_uri = prefix + TRAINING_FILE
    if storage.exists(client, training_uri):
        log.info("candidate already exists: %s (not retraining)", training_uri)
        return _result_from_record(storage.get_json(client, training_uri), prefix, reused=True)
    for note in mplan.notes:
        log.info("model plan: %s", note)

    data = load_training_data(client, cfg, plan)
    with compute_threads() as threads:
        log.info("native threads: %d (env %s)", threads, THREADS_ENV)
        fit = fit_model(cfg, data.train, mplan)
        model = fit.model
        started = time.perf_counter()
        blob = serialization.dump_model(model)
        model_sha = storage.sha256_bytes(blob)
        train_pred, train_proba = predict(model, cfg, data.train)
        importances = permutation_importances(model, cfg, data.holdout, seed=mplan.seed)
    top = list(importances.items())[:5]
    log.info("permutation importance (holdout, top 5): %s", ", ".join(f"{k}={v:.4f}" for k, v in top))
    reference_frame = data.train.loc[:, [*cfg.feature_columns, cfg.target]]
    profile = monitoring.build_reference_profile(
        reference_frame,
        cfg,
        predictions=train_proba if cfg.is_classifier else train_pred,
        importances=importances,
    )
    log.info("post-fit (serialize, importance, profile) took %.1fs", time.perf_counter() - started)

    model_put = storage.put_bytes(client, prefix + MODEL_FILE, blob)
    log.info("wrote %s (%d bytes, sha256 %s)", model_put.uri, len(blob), model_sha[:12])
    storage.put_json(client, prefix + REFERENCE_PROFILE_FILE, profile)
    log.info("wrote %s", prefix + REFERENCE_PROFILE_FILE)
    import pandas as pd
    import sklearn

    record = {
        "dataset": cfg.name,
        "task": cfg.task,
        "candidate_prefix": prefix,
        "run": _jsonable(run or {}) | {"run_id": run_id},
        "request": {k: v for k, v in request.items() if k != "config"},
        "window": plan.to_dict(),
        "excluded_days": data.excluded,
        "split": data.split,
        "lineage": data.lineage,
        "data_hash": data.data_hash,
        # flat lineage fields read by mlops.registry.training_lineage
        "data_uris": [i["batch_uri"] for i in data.lineage] + [i["labels_uri"] for i in data.lineage],
        "data_version_ids": {
            i[f"{k}_uri"]: i[f"{k}_version_id"] for i in data.lineage for k in ("batch", "labels")
        },
        "validation_uris": [i["validation_uri"] for i in data.lineage if i["validation_uri"]],
        "row_counts": {
            "train": data.split["train_rows"],
            "holdout": data.split["holdout_rows"],
            "total": data.split["train_rows"] + data.split["holdout_rows"],
        },
        "model": mplan.to_dict(),
        "estimator": mplan.estimator,
        "params": mplan.params,
        "estimator_params": _jsonable(model.named_steps["model"].get_params(deep=False)),
        "best_params": fit.best_params,
        "cv": fit.cv,
        "seed": mplan.seed,
        "fit_seconds": fit.fit_seconds,
        "feature_signature": feature_signature(cfg),
        "target": cfg.target,
        "id_column": cfg.id_column,
        "date_column": cfg.date_column,
        "importances": importances,
        "canned_rows": canned_rows(cfg, data.holdout),
        "model_uri": model_put.uri,
        "model_version_id": model_put.version_id,
        "model_sha256": model_sha,
        "model_bytes": len(blob),
        "config": cfg.to_dict(),
        "config_sha256": hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest(),
        "versions": {
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
    }
    storage.put_json(client, training_uri, record)
    log.info("wrote %s", training_uri)
    return _result_from_record(record, prefix, reused=False)
