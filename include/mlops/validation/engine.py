"""Out-of-core evaluation of a suite: GX computes each metric chunk by chunk, GX judges the merged metrics.

GX's own pandas validation needs the whole batch in memory (3.1 GiB at 5M rows x 21 columns),
fingerprints it twice and copies the whole frame once per expectation. Here the batch is read in
chunks of rows (:mod:`~mlops.validation.chunks`); each chunk is split into one-column frames
loaded into one ``PandasExecutionEngine``, and GX resolves, in one graph per chunk, the metrics
every expectation asks for (``Expectation.get_validation_dependencies``). The values are merged
exactly:

- the row count and the unexpected counts of row-wise map metrics (not null, between, in set, not
  in set, of type, regex, length) are summed; their unexpected values are concatenated up to the
  result format's ``partial_unexpected_count`` (GX returns the first ones in row order);
- schema metrics (``table.columns``, ``table.column_types``) come from a 0-row frame with the
  batch's dtypes;
- a numeric column's mean is its sum over its non-null count (what GX's pandas ``column.mean``
  returns, without GX's per-value scan for ``Decimal``);
- uniqueness is counted over the whole column: a 64-bit hash of every non-null value, then an exact
  recount of the values whose hash repeats;
- any other metric (quantiles, medians, hand-written expectations) is computed by GX on the whole
  of the columns it names, one column set at a time.

GX then judges every expectation from the merged metrics, with the steps of
``Expectation.metrics_validate`` (the expectation's own ``_validate`` and result builder): the
success rules, ``mostly`` and the result's fields are GX's own. A metric GX cannot compute gives
the same ``exception_info`` result as GX's validator. ``tests/include/mlops/test_validation_engine.py``
checks every field against GX's ``Batch.validate`` on the whole frame.
"""

from __future__ import annotations

import copy
import json
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops.validation.chunks import Table

#: Map metrics whose condition looks at one row at a time: their counts add up across chunks.
ROW_WISE = frozenset(
    {
        "column_values.nonnull",
        "column_values.null",
        "column_values.between",
        "column_values.in_set",
        "column_values.not_in_set",
        "column_values.of_type",
        "column_values.in_type_list",
        "column_values.match_regex",
        "column_values.not_match_regex",
        "column_values.value_length.between",
        "column_values.value_length.equals",
    }
)
SCHEMA_METRICS = frozenset({"table.columns", "table.column_types"})
UNIQUE = "column_values.unique"
#: GX's batch id of the 0-row frame that carries the batch's columns and dtypes.
SCHEMA_BATCH = "schema"
#: Values kept in row order per unique column while looking for the first duplicated ones.
UNIQUE_FIRST = 10_000
_NO_PROGRESS_BARS = 1 << 62  # min_graph_edges_pbar_enable: never draw GX's progress bars
#: Metric plans kept per process, by (suite sha256, result format, dtypes).
PLAN_CACHE_SIZE = 8
_PLANS: dict[tuple, _Plan] = {}


def _column(mc) -> str | None:
    return mc.metric_domain_kwargs.get("column")


def _filtered(mc) -> bool:
    return bool(mc.metric_domain_kwargs.get("row_condition"))


@dataclass
class _Plan:
    """Every expectation with the metrics it needs, each metric sorted by how it is merged."""

    #: (config, expectation | None, its ValidationDependencies | None, error | None), in suite order
    expectations: list[Any] = field(default_factory=list)
    streamed: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))  # column -> metrics
    means: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))  # column -> metrics
    unique: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    rows: list[Any] = field(default_factory=list)
    schema: list[Any] = field(default_factory=list)
    whole: dict[tuple[str, ...], list[Any]] = field(default_factory=lambda: defaultdict(list))


def _kind(mc, dtypes: dict[str, Any]) -> str:
    """How ``mc`` is computed: ``rows``, ``schema``, ``stream``, ``mean``, ``unique`` or ``whole``."""
    name, col = mc.metric_name, _column(mc)
    if _filtered(mc):
        return "whole"
    if name == "table.row_count":
        return "rows"
    if name in SCHEMA_METRICS:
        return "schema"
    base, _, suffix = name.rpartition(".")
    if base in ROW_WISE and suffix in ("unexpected_count", "unexpected_values") and col is not None:
        return "stream"
    if name == "column.mean" and col in dtypes and dtypes[col].kind in "iuf":
        return "mean"
    if base == UNIQUE and suffix in ("unexpected_count", "unexpected_values") and _hashable(dtypes.get(col)):
        return "unique"
    return "whole"


def _hashable(dtype: Any) -> bool:
    """Dtypes whose values hash like they compare (strings, numbers, datetimes; not object or category)."""
    return dtype is not None and (dtype.kind in "iufmM" or str(dtype) == "str")


def _domain_columns(mc, all_columns: list[str]) -> tuple[str, ...]:
    kw = mc.metric_domain_kwargs
    if kw.get("column") is not None:
        return (kw["column"],)
    if kw.get("column_A") is not None:
        return (kw["column_A"], kw["column_B"])
    if kw.get("column_list"):
        return tuple(kw["column_list"])
    return tuple(all_columns)


def _plan(configs, engine, rc: dict[str, Any], schema: pd.DataFrame) -> _Plan:
    plan, seen = _Plan(), set()
    dtypes = dict(schema.dtypes.items())
    for config in configs:
        try:
            expectation = config.to_domain_obj()
            deps = expectation.get_validation_dependencies(
                execution_engine=engine, runtime_configuration=copy.deepcopy(rc)
            )
        except Exception as err:  # GX's validator reports these as a failed expectation, so do we
            plan.expectations.append((config, None, None, _exception_info(err)))
            continue
        plan.expectations.append((config, expectation, deps, None))
        for mc in deps.get_metric_configurations():
            if mc.id in seen:
                continue
            seen.add(mc.id)
            kind = _kind(mc, dtypes)
            if kind == "rows":
                plan.rows.append(mc)
            elif kind == "schema":
                plan.schema.append(mc)
            elif kind == "stream":
                plan.streamed[_column(mc)].append(mc)
            elif kind == "mean":
                plan.means[_column(mc)].append(mc)
            elif kind == "unique":
                plan.unique[_column(mc)].append(mc)
            else:
                plan.whole[_domain_columns(mc, list(schema.columns))].append(mc)
    return plan


def _exception_info(err: BaseException) -> dict[str, Any]:
    from great_expectations.validator.exception_info import ExceptionInfo

    return ExceptionInfo(exception_traceback=traceback.format_exc(), exception_message=str(err))


class _Run:
    """The metrics of one evaluation: merged values and the errors met, by metric id."""

    def __init__(self, engine, validator, rc: dict[str, Any], partial: int) -> None:
        self.engine, self.validator, self.rc, self.partial = engine, validator, rc, partial
        self.values: dict[Any, Any] = {}
        self.errors: dict[Any, dict[str, Any]] = {}

    def compute(self, wanted: list[tuple[Any, str]], merge: Callable[[Any, Any], None]) -> None:
        """Resolve each ``(metric, batch_id)`` with GX in one graph; ``merge(metric, value)`` each result."""
        from great_expectations.validator.metric_configuration import MetricConfiguration

        todo = [(mc, b) for mc, b in wanted if mc.id not in self.errors]
        if not todo:
            return
        on_batch = [
            MetricConfiguration(
                mc.metric_name, {**mc.metric_domain_kwargs, "batch_id": b}, mc.metric_value_kwargs
            )
            for mc, b in todo
        ]
        resolved, aborted = self.validator.compute_metrics(
            on_batch, copy.deepcopy(self.rc), min_graph_edges_pbar_enable=_NO_PROGRESS_BARS
        )
        for (mc, b), on in zip(todo, on_batch, strict=True):
            if on.id in resolved:
                merge(mc, resolved[on.id])
            else:
                self.errors[mc.id] = _aborted_for(mc, b, aborted)

    def merge_stream(self, mc, value) -> None:
        if mc.metric_name.endswith(".unexpected_count"):
            self.values[mc.id] = self.values.get(mc.id, 0) + int(value)
        else:
            kept = self.values.setdefault(mc.id, [])
            kept.extend(list(value)[: max(self.partial - len(kept), 0)])

    def set(self, mc, value) -> None:
        self.values[mc.id] = value


def _aborted_for(mc, batch_id: str, aborted: dict[Any, Any]) -> dict[str, Any]:
    """GX's ``exception_info`` for ``mc``: the failed metrics of its batch, its own map metric's first."""
    base = mc.metric_name.rpartition(".")[0]
    mine = {k: v for k, v in aborted.items() if _batch_of(v) == batch_id}
    related = {k: v for k, v in mine.items() if v["metric_configuration"].metric_name.startswith(base)}
    return {str(k): v["exception_info"] for k, v in (related or mine or aborted).items()}


def _batch_of(info: dict[str, Any]) -> str | None:
    return info["metric_configuration"].metric_domain_kwargs.get("batch_id")


def _stream(run: _Run, table: Table, plan: _Plan) -> None:
    """One pass over the chunks: row-wise counts and samples, and numeric sums for the means."""
    columns = list(dict.fromkeys([*plan.streamed, *plan.means]))
    if not columns:
        return
    sums: dict[Any, float] = defaultdict(float)
    counts: dict[Any, int] = defaultdict(int)
    cache = run.engine.batch_manager.batch_data_cache
    for i, chunk in enumerate(table.chunks(columns)):
        wanted = []
        for col in columns:
            if col in plan.means:
                values = chunk[col]
                n, total = int(values.notna().sum()), float(values.sum()) if len(values) else 0.0
                for mc in plan.means[col]:
                    sums[mc.id] += total
                    counts[mc.id] += n
            if col in plan.streamed:
                batch_id = f"chunk{i}:{col}"
                run.engine.load_batch_data(batch_id, chunk[[col]])
                wanted += [(mc, batch_id) for mc in plan.streamed[col]]
        run.compute(wanted, run.merge_stream)
        for col in plan.streamed:
            cache.pop(f"chunk{i}:{col}", None)
    for mcs in plan.means.values():
        for mc in mcs:
            run.set(mc, sums[mc.id] / counts[mc.id] if counts[mc.id] else float("nan"))


def _unique(run: _Run, table: Table, column: str, mcs: list[Any]) -> None:
    """Non-null values that occur more than once (GX: ``~duplicated(keep=False)``), over every chunk."""
    import numpy as np

    hashed = [_hash(s) for s in _non_null(table, column)]
    hashes = np.concatenate(hashed) if hashed else np.empty(0, dtype="uint64")
    del hashed
    hashes.sort()
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    del hashes
    counts: Counter = Counter()
    first: list[Any] = []
    if len(repeated):
        for s in _non_null(table, column):
            candidates = s[np.isin(_hash(s), repeated)].tolist()
            counts.update(candidates)
            first.extend(candidates[: max(UNIQUE_FIRST - len(first), 0)])
    duplicated = {v for v, n in counts.items() if n > 1}
    for mc in mcs:
        if mc.metric_name.endswith(".unexpected_count"):
            run.set(mc, sum(counts[v] for v in duplicated))
        else:
            run.set(mc, [v for v in first if v in duplicated][: run.partial])


def _non_null(table: Table, column: str):
    for chunk in table.chunks([column]):
        s = chunk[column]
        yield s[s.notna()]


def _hash(s: pd.Series):
    """64-bit hashes equal for equal values (``-0.0`` and ``0.0`` too)."""
    import pandas as pd

    if s.dtype.kind == "f":
        s = s + 0.0
    return pd.util.hash_pandas_object(s, index=False).to_numpy()


def _whole(run: _Run, table: Table, columns: tuple[str, ...], mcs: list[Any]) -> None:
    batch_id = "whole:" + "|".join(columns)
    run.engine.load_batch_data(batch_id, table.frame(list(columns)))
    run.compute([(mc, batch_id) for mc in mcs], run.set)
    run.engine.batch_manager.batch_data_cache.pop(batch_id, None)


def _validated(run: _Run, expectation, deps):
    """GX's ``Expectation.metrics_validate`` on the merged metrics, with the dependencies already known.

    The same steps (result format from the dependencies, metrics by name, ``_validate``,
    ``_build_evr``) without computing the dependencies a second time: that is half of GX's
    per-expectation cost on a small batch.
    """
    rc = copy.deepcopy(run.rc)
    rc["result_format"] = deps.result_format
    metrics = {name: run.values[mc.id] for name, mc in deps.metric_configurations.items()}
    raw = expectation._validate(metrics=metrics, runtime_configuration=rc, execution_engine=run.engine)
    return expectation._build_evr(raw_response=raw)


def _judge(run: _Run, plan: _Plan) -> list[Any]:
    from great_expectations.core import ExpectationValidationResult

    results = []
    for config, expectation, deps, error in plan.expectations:
        mcs = deps.get_metric_configurations() if deps is not None else []
        failed = {k: v for mc in mcs if mc.id in run.errors for k, v in run.errors[mc.id].items()}
        if error is None and not failed:
            try:
                results.append(_validated(run, expectation, deps))
                continue
            except Exception as err:  # as GX's validator: the expectation fails with the error
                error = _exception_info(err)
        results.append(
            ExpectationValidationResult(
                success=False, exception_info=error or failed, expectation_config=config
            )
        )
    return results


def _cached_plan(key: tuple | None, make: Callable[[], _Plan]) -> _Plan:
    """The plan for ``key`` made once per process (a window's days share suite and dtypes)."""
    if key is None:
        return make()
    if key not in _PLANS:
        if len(_PLANS) >= PLAN_CACHE_SIZE:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = make()
    return _PLANS[key]


def evaluate(table: Table, gx_suite, *, result_format: dict[str, Any], suite_key: str | None = None):
    """Validate ``table`` against ``gx_suite`` (a GX ``ExpectationSuite``) chunk by chunk.

    ``suite_key`` (the suite's sha256) lets the process reuse the metric plan of an earlier batch
    with the same suite and dtypes: GX's dependency resolution is then done once per window.
    Returns GX's ``ExpectationSuiteValidationResult`` (results in suite order, statistics, and
    ``meta.great_expectations_version``), as ``Batch.validate`` would on the whole batch.
    """
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.validator.validation_statistics import calc_validation_statistics
    from great_expectations.validator.validator import Validator

    engine = PandasExecutionEngine(caching=False)
    validator = Validator(execution_engine=engine)
    rc = {"result_format": dict(result_format)}
    schema = table.schema()
    engine.load_batch_data(SCHEMA_BATCH, schema)
    key = None
    if suite_key is not None:
        dtypes = tuple((str(c), str(t)) for c, t in schema.dtypes.items())
        key = (suite_key, json.dumps(result_format, sort_keys=True), dtypes)
    plan = _cached_plan(key, lambda: _plan(gx_suite.expectation_configurations, engine, rc, schema))
    run = _Run(engine, validator, rc, int(result_format.get("partial_unexpected_count", 20)))
    run.compute([(mc, SCHEMA_BATCH) for mc in plan.schema], run.set)
    for mc in plan.rows:
        run.set(mc, table.row_count)
    _stream(run, table, plan)
    for column, mcs in plan.unique.items():
        _unique(run, table, column, mcs)
    for columns, mcs in plan.whole.items():
        _whole(run, table, columns, mcs)
    results = _judge(run, plan)
    stats = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        results=results,
        success=stats.success,
        suite_name=gx_suite.name,
        statistics={
            "evaluated_expectations": stats.evaluated_expectations,
            "successful_expectations": stats.successful_expectations,
            "unsuccessful_expectations": stats.unsuccessful_expectations,
            "success_percent": stats.success_percent,
        },
        meta={"great_expectations_version": gx.__version__},
    )
