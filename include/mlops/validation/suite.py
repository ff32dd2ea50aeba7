"""Expectation suites: rendered from a dataset config, committed as JSON, loaded by scope.

One suite per dataset lives in ``include/expectations/<dataset>.json``. :func:`build_suite`
renders it from the ``validation:`` section of the dataset config (``mlops suites --dataset
NAME``); expectations whose ``meta.source`` is not ``"config"`` are hand-written and kept on
regeneration. Each expectation has a ``meta.scope``: ``all``, ``labelled`` (training batches
joined with their labels: target values and class balance) or ``unlabelled``.

Column types: numeric features are int/float, categorical features strings, boolean features
bool (numpy ``bool``, pandas ``boolean``, or Python bools with nulls); the id column is a string
or, with ``id_type: integer``, any integer dtype; the date column (only when ``date_column`` is
set) a datetime. The target's type follows ``validation.target_values`` (strings, booleans or
numbers) and is numeric otherwise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlops.config import DatasetConfig, config_label, config_path, expectations_dir
from mlops.errors import ConfigError

SCOPES = ("all", "labelled", "unlabelled")
NUMERIC_TYPES = ["int64", "int32", "float64", "float32"]
#: Every integer dtype GX knows by name: numpy's and pandas' nullable ones.
INTEGER_TYPES = [
    *(f"{u}int{b}" for u in ("", "u") for b in (8, 16, 32, 64)),
    *(f"{u}Int{b}Dtype" for u in ("", "U") for b in (8, 16, 32, 64)),
]


def suite_path(dataset: str) -> Path:
    """``include/expectations/<dataset>.json`` (or under ``$MLOPS_EXPECTATIONS_DIR``)."""
    return expectations_dir() / f"{dataset}.json"


def config_digest(cfg: DatasetConfig) -> str:
    """Hash of the config keys a suite is built from; a stale suite file is refused at load time."""
    keys = ("name", "task", "id_column", "id_type", "date_column", "target", "features", "validation")
    data = {k: v for k, v in cfg.to_dict().items() if k in keys}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def select_scope(suite: dict[str, Any], *, labelled: bool) -> dict[str, Any]:
    """``suite`` with only the expectations of scope ``all`` plus ``labelled`` or ``unlabelled``."""
    wanted = {"all", "labelled" if labelled else "unlabelled"}
    exps = [e for e in suite.get("expectations", []) if (e.get("meta") or {}).get("scope", "all") in wanted]
    return {**suite, "expectations": exps}


def suite_sha256(suite: dict[str, Any]) -> str:
    """sha256 of a (scoped) suite's canonical JSON: a recorded result is reused only while it is unchanged.

    Any edit of the suite file (a hand-written expectation, a bound) changes it, and so does the scope
    (labelled or unlabelled): the result records it as ``suite_digest``.
    """
    text = json.dumps(suite, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- building blocks
def _number(x: float | int | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else float(x)


def _exp(expectation: str, rule: str, scope: str = "all", **kwargs: Any) -> dict[str, Any]:
    return {"type": expectation, "kwargs": kwargs, "meta": {"source": "config", "rule": rule, "scope": scope}}


def _between(expectation: str, rule: str, col: str, bounds: Any, scope: str = "all") -> dict[str, Any]:
    """A min/max expectation from a ``(lo, hi)`` config pair (a ``None`` bound is open)."""
    lo, hi = bounds
    return _exp(expectation, rule, scope, column=col, min_value=_number(lo), max_value=_number(hi))


def _check_columns(cfg: DatasetConfig) -> None:
    v = cfg.validation
    feats = set(cfg.feature_columns)
    numeric = set(cfg.features.numeric)
    checks = {
        "null_tolerance": (set(v.null_tolerance), {*cfg.columns, cfg.target}),
        "ranges": (set(v.ranges), numeric),
        "value_sets": (set(v.value_sets), feats),
        "mean_ranges": (set(v.mean_ranges), numeric),
        "quantile_ranges": (set(v.quantile_ranges), numeric),
    }
    where = config_path(cfg.name)
    for key, (named, allowed) in checks.items():
        unknown = sorted(named - allowed)
        if unknown:
            raise ConfigError(
                f"validation.{key} in {where} names {unknown}, which are not "
                f"{'numeric features' if allowed == numeric else 'columns'} of {cfg.name!r}; "
                f"known: {sorted(allowed)}. Fix the spelling or remove the entry."
            )
    if cfg.task == "regression" and v.target_values:
        raise ConfigError(f"validation.target_values in {where} is for classification; use target_range.")


def _base_columns(cfg: DatasetConfig) -> list[str]:
    return list(cfg.columns)


def _type_expectation(column: str, kind: str, rule: str, scope: str = "all") -> dict[str, Any]:
    """The type check of one column: ``numeric``, ``integer``, ``string``, ``boolean`` or ``datetime``."""
    if kind == "numeric":
        return _exp(
            "expect_column_values_to_be_in_type_list", rule, scope, column=column, type_list=NUMERIC_TYPES
        )
    if kind == "integer":
        return _exp(
            "expect_column_values_to_be_in_type_list", rule, scope, column=column, type_list=INTEGER_TYPES
        )
    type_ = {"string": "str", "boolean": "bool", "datetime": "datetime64"}[kind]
    return _exp("expect_column_values_to_be_of_type", rule, scope, column=column, type_=type_)


def target_kind(cfg: DatasetConfig) -> str:
    """The target's type: ``string``/``boolean`` when every ``target_values`` entry is one, else ``numeric``."""
    values = cfg.validation.target_values or ()
    if values and all(isinstance(x, bool) for x in values):
        return "boolean"
    if values and all(isinstance(x, str) for x in values):
        return "string"
    return "numeric"


# ---------------------------------------------------------------- the suite, section by section
def _table_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Row-count floor and the exact column set (with and without the target)."""
    v, base = cfg.validation, _base_columns(cfg)
    rule = "validation.allow_extra_columns"
    return [
        _exp("expect_table_row_count_to_be_between", "validation.min_rows", min_value=v.min_rows),
        _exp(
            "expect_table_columns_to_match_set",
            rule,
            "unlabelled",
            column_set=base,
            exact_match=not v.allow_extra_columns,
        ),
        _exp(
            "expect_table_columns_to_match_set",
            rule,
            "labelled",
            column_set=[*base, cfg.target],
            exact_match=not v.allow_extra_columns,
        ),
    ]


def _schema_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Every column present, with its type."""
    exps = [_exp("expect_column_to_exist", "schema", column=c) for c in _base_columns(cfg)]
    exps.append(_exp("expect_column_to_exist", "schema", "labelled", column=cfg.target))
    id_rule = "id_type" if cfg.id_type != "string" else "schema"  # "schema": the suites before id_type
    exps.append(_type_expectation(cfg.id_column, cfg.id_type, id_rule))
    if cfg.date_column:
        exps.append(_type_expectation(cfg.date_column, "datetime", "schema"))
    for kind in ("numeric", "categorical", "boolean"):
        type_kind = "string" if kind == "categorical" else kind
        exps += [_type_expectation(c, type_kind, f"features.{kind}") for c in getattr(cfg.features, kind)]
    return exps


def _null_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Not-null per column with a ``mostly`` tolerance (none for the id and date columns)."""
    v = cfg.validation
    exps = []
    for col in _base_columns(cfg):
        default = 0.0 if col in (cfg.id_column, cfg.date_column) else v.max_null_fraction
        tolerance = v.null_tolerance.get(col, default)
        rule = (
            f"validation.null_tolerance.{col}" if col in v.null_tolerance else "validation.max_null_fraction"
        )
        kwargs: dict[str, Any] = {"column": col}
        if tolerance > 0:
            kwargs["mostly"] = round(1.0 - tolerance, 6)
        exps.append(_exp("expect_column_values_to_not_be_null", rule, **kwargs))
    return exps


def _value_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Unique ids, hard numeric ranges and categorical value sets."""
    v = cfg.validation
    exps = [_exp("expect_column_values_to_be_unique", "id_column", column=cfg.id_column)]
    exps += [
        _between("expect_column_values_to_be_between", f"validation.ranges.{col}", col, bounds)
        for col, bounds in v.ranges.items()
    ]
    exps += [
        _exp(
            "expect_column_values_to_be_in_set",
            f"validation.value_sets.{col}",
            column=col,
            value_set=list(values),
        )
        for col, values in v.value_sets.items()
    ]
    return exps


def _distribution_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Distribution sanity: mean and quantile bounds, wide enough for drift but not a broken export."""
    v = cfg.validation
    exps = [
        _between("expect_column_mean_to_be_between", f"validation.mean_ranges.{col}", col, bounds)
        for col, bounds in v.mean_ranges.items()
    ]
    for col, qs in v.quantile_ranges.items():
        quantiles = sorted(qs)
        ranges = {
            "quantiles": [float(q) for q in quantiles],
            "value_ranges": [[_number(qs[q][0]), _number(qs[q][1])] for q in quantiles],
        }
        exps.append(
            _exp(
                "expect_column_quantile_values_to_be_between",
                f"validation.quantile_ranges.{col}",
                column=col,
                quantile_ranges=ranges,
            )
        )
    return exps


def _target_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Labelled batches only: the target is present, numeric, in its value set or range, balanced."""
    v, tgt = cfg.validation, cfg.target
    exps = [
        _exp("expect_column_values_to_not_be_null", "target", "labelled", column=tgt),
        _type_expectation(tgt, target_kind(cfg), "target", "labelled"),
    ]
    if v.target_values:
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "validation.target_values",
                "labelled",
                column=tgt,
                value_set=list(v.target_values),
            )
        )
    if v.target_range:
        exps.append(
            _between(
                "expect_column_values_to_be_between",
                "validation.target_range",
                tgt,
                v.target_range,
                "labelled",
            )
        )
    if v.target_mean_range:
        rule = "validation.target_mean_range"
        exps.append(_between("expect_column_mean_to_be_between", rule, tgt, v.target_mean_range, "labelled"))
    return exps + _class_share_expectations(cfg)


def _class_share_expectations(cfg: DatasetConfig) -> list[dict[str, Any]]:
    """Class balance per class: ``share >= lo`` is "in {c}, mostly lo"; ``share <= hi`` is "not in {c}, mostly 1-hi"."""
    exps = []
    for label, (lo, hi) in cfg.validation.class_shares.items():
        rule = f"validation.class_shares.{label}"
        if lo > 0:
            exps.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    rule,
                    "labelled",
                    column=cfg.target,
                    value_set=[label],
                    mostly=_number(lo),
                )
            )
        if hi < 1:
            exps.append(
                _exp(
                    "expect_column_values_to_not_be_in_set",
                    rule,
                    "labelled",
                    column=cfg.target,
                    value_set=[label],
                    mostly=_number(round(1 - hi, 6)),
                )
            )
    return exps


def build_suite(cfg: DatasetConfig) -> dict[str, Any]:
    """The GX expectation suite (as a JSON-able dict) that the dataset config implies.

    Covers the schema (columns present, types, no unexpected columns unless
    ``allow_extra_columns``), nulls with ``mostly`` tolerances, numeric ranges,
    categorical value sets, id uniqueness, a row-count floor and distribution
    sanity (means, quantiles); labelled-scope checks on the target's values
    and class balance.

    Raises
    ------
    ConfigError
        If the ``validation:`` section names a column the dataset does not have.
    """
    _check_columns(cfg)
    sections = (
        _table_expectations,
        _schema_expectations,
        _null_expectations,
        _value_expectations,
        _distribution_expectations,
        _target_expectations,
    )
    return {
        "name": cfg.name,
        "expectations": [e for section in sections for e in section(cfg)],
        "meta": {
            "dataset": cfg.name,
            "generated_from": f"{config_label(cfg.name)}",
            "generated_by": f"mlops suites --dataset {cfg.name}",
            "config_digest": config_digest(cfg),
            "notes": "meta.source 'config' entries are regenerated; any other source is hand-written and kept.",
        },
    }


# ---------------------------------------------------------------- the committed file
def render_suite(cfg: DatasetConfig, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`build_suite` plus the hand-written expectations of ``existing`` (kept as they are)."""
    suite = build_suite(cfg)
    hand = [
        e for e in (existing or {}).get("expectations", []) if (e.get("meta") or {}).get("source") != "config"
    ]
    suite["expectations"] += hand
    return suite


def write_suite(cfg: DatasetConfig, path: Path | None = None) -> tuple[Path, bool]:
    """(Re)write the suite file; returns ``(path, changed)``."""
    path = path or suite_path(cfg.name)
    existing = json.loads(path.read_text()) if path.is_file() else None
    suite = render_suite(cfg, existing)
    text = json.dumps(suite, indent=2) + "\n"
    changed = not path.is_file() or path.read_text() != text
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path, changed


def load_suite(cfg: DatasetConfig, *, labelled: bool = False, path: Path | None = None) -> dict[str, Any]:
    """The committed suite for ``cfg``, filtered to the labelled or unlabelled scope.

    Raises
    ------
    ConfigError
        If the file is missing, not JSON, or was built from a different config
        (edit the YAML, then run ``mlops suites --dataset NAME``).
    """
    path = path or suite_path(cfg.name)
    fix = f"run `mlops suites --dataset {cfg.name}` and commit {path.name}"
    if not path.is_file():
        raise ConfigError(f"No expectation suite {path} for dataset {cfg.name!r}; {fix}.")
    try:
        suite = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"Expectation suite {path} is not valid JSON ({err}); {fix}.") from err
    digest = (suite.get("meta") or {}).get("config_digest")
    if digest != config_digest(cfg):
        raise ConfigError(
            f"Expectation suite {path} is stale: built from config digest {digest}, but "
            f"{config_label(cfg.name)} now has {config_digest(cfg)}; {fix}."
        )
    name = f"{suite.get('name', cfg.name)}.{'labelled' if labelled else 'unlabelled'}"
    return {**select_scope(suite, labelled=labelled), "name": name}
