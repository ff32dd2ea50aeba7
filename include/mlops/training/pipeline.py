"""The model from the config: estimators, the preprocessor, ensembles and the hyperparameter search.

:func:`plan_model` resolves the config plus the Param overrides into one
:class:`~mlops.artifacts.ModelPlan`; :func:`build_model` makes the
``Pipeline(ColumnTransformer, estimator)`` from it, wrapped in
``GridSearchCV``/``RandomizedSearchCV`` (time-series folds) when the plan has a search.
Every random state comes from ``model.seed``.
"""

from __future__ import annotations

from typing import Any

from mlops import metrics
from mlops.artifacts import ModelPlan
from mlops.config import ESTIMATORS, DatasetConfig, config_label
from mlops.errors import ConfigError

#: Every estimator name a config (or the ``estimator`` Param) may use.
ESTIMATOR_NAMES: tuple[str, ...] = tuple(
    sorted(set(ESTIMATORS["classification"]) | set(ESTIMATORS["regression"]))
)
SEARCH_MODES = ("config", "none")
#: Search scorings about one class: scored for the configured positive class (not sklearn's ``1``).
POSITIVE_CLASS_SCORINGS = ("precision", "recall", "f1", "average_precision")
#: The same scorings for a multiclass target (sklearn's names); average precision has none.
MULTICLASS_SCORINGS = {
    "precision": "precision_macro",
    "recall": "recall_macro",
    "f1": "f1_macro",
    "roc_auc": "roc_auc_ovr",
}


# ---------------------------------------------------------------- estimators
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
    if name in ("hist_gradient_boosting", "ridge", "elastic_net"):
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
    """``ColumnTransformer``: median impute (+ missing indicator) and scale numerics; impute and one-hot
    categoricals; booleans (0/1 floats from :func:`mlops.models.feature_frame`) imputed with the most
    frequent value plus a missing indicator, unscaled."""
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
    if cfg.features.boolean:
        boolean = SimpleImputer(strategy="most_frequent", add_indicator=True, keep_empty_features=True)
        transformers.append(("boolean", boolean, list(cfg.features.boolean)))
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True
    )


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


# ---------------------------------------------------------------- the plan
def plan_model(cfg: DatasetConfig, *, estimator: str | None = None, search: str = "config") -> ModelPlan:
    """Resolve the config plus the Param overrides into one :class:`~mlops.artifacts.ModelPlan`.

    ``estimator`` None means ``model.estimator`` (rendered template values are parsed by the
    operators). An ``estimator`` override that differs from ``model.estimator`` trains that
    single estimator with its defaults: the config's ``params``, ``search`` space
    and ``ensemble`` belong to ``model.estimator`` (a parameter name can mean
    something else on another estimator, e.g. ``learning_rate``).
    """
    if search not in SEARCH_MODES:
        raise ConfigError(
            f"The 'search' parameter must be one of {list(SEARCH_MODES)}. Got {search!r} instead."
        )
    spec, task, notes = cfg.model, cfg.task, []
    override = estimator is not None and estimator != spec.estimator
    name = estimator if override else spec.estimator
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


def configured_classes(cfg: DatasetConfig) -> tuple[Any, ...]:
    """``validation.target_values`` of a classifier (empty when not listed)."""
    return tuple(cfg.validation.target_values or ()) if cfg.is_classifier else ()


def default_scoring(cfg: DatasetConfig, y: Any = None) -> str:
    """The search's scoring when the config names none, and permutation importance's.

    Binary: ``roc_auc``; multiclass (``y``, else ``validation.target_values``, has more than two
    labels): ``f1_macro``, which stays defined on a time-series fold that lacks a class;
    regression: ``neg_root_mean_squared_error``.
    """
    if not cfg.is_classifier:
        return "neg_root_mean_squared_error"
    labels = metrics.labels_of(y) if y is not None else list(configured_classes(cfg))
    return "f1_macro" if metrics.is_multiclass(labels) else "roc_auc"


def search_scorer(cfg: DatasetConfig, scoring: str, y: Any) -> Any:
    """The search's ``scoring``: a one-class scoring (precision, recall, f1, average precision) of a
    binary classifier is scored for the positive class of :mod:`mlops.metrics`; for a multiclass
    target precision/recall/f1 become their macro averages and ``roc_auc`` one-vs-rest; anything
    else as named."""
    if not cfg.is_classifier:
        return scoring
    if metrics.is_multiclass(metrics.labels_of(y)):
        if scoring == "average_precision":
            raise ConfigError(
                f"model.search.scoring 'average_precision' of {config_label(cfg.name)} is binary only; "
                f"the target has {len(metrics.labels_of(y))} classes. Use f1_macro, roc_auc_ovr or accuracy."
            )
        return MULTICLASS_SCORINGS.get(scoring, scoring)
    if scoring not in POSITIVE_CLASS_SCORINGS:
        return scoring
    from sklearn import metrics as skm

    positive = metrics.resolve_positive_class(cfg, metrics.labels_of(y))
    if scoring == "average_precision":
        return skm.make_scorer(
            skm.average_precision_score, response_method="predict_proba", pos_label=positive
        )
    score = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[scoring]
    return skm.make_scorer(score, pos_label=positive, zero_division=0)


def _search_key(key: str, plan: ModelPlan) -> str:
    if key.startswith(("model__", "preprocess__")):
        return key
    if plan.ensemble:
        return f"model__{plan.estimator}__{key}"
    return f"model__{key}"


# ---------------------------------------------------------------- the model
def build_model(cfg: DatasetConfig, plan: ModelPlan):
    """The unfitted model: ``Pipeline(preprocess, model)``, inside a search CV when planned."""
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
    return _with_search(cfg, plan, pipeline) if plan.search else pipeline


def _with_search(cfg: DatasetConfig, plan: ModelPlan, pipeline):
    """Wrap the pipeline in the planned grid or randomized search over time-series folds."""
    from sklearn.model_selection import GridSearchCV, ParameterGrid, RandomizedSearchCV, TimeSeriesSplit

    space = {_search_key(k, plan): list(v) for k, v in plan.search["space"].items()}
    valid = set(pipeline.get_params())
    unknown = sorted(k for k in space if k not in valid)
    if unknown:
        names = sorted(
            k.removeprefix("model__") for k in valid if k.startswith("model__") and k.count("__") == 1
        )
        raise ConfigError(
            f"model.search.space keys {unknown} are not parameters of the pipeline for {plan.estimator!r} "
            f"in {config_label(cfg.name)}; use a parameter name of the estimator (e.g. {names[:8]})."
        )
    common = {
        "scoring": plan.search["scoring"],
        "cv": TimeSeriesSplit(n_splits=plan.search["cv"]),
        "n_jobs": 1,
        "refit": True,
        "error_score": "raise",
        "verbose": 3,  # one stdout line per fit (fold, params, score, time): progress in the task log
    }
    if plan.search["kind"] == "grid":
        return GridSearchCV(pipeline, space, **common)
    n_iter = min(plan.search["n_iter"], len(ParameterGrid(space)))
    return RandomizedSearchCV(pipeline, space, n_iter=n_iter, random_state=plan.seed, **common)
