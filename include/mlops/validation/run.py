"""Running a suite on a batch with Great Expectations (GX Core 1.x), chunk by chunk.

:func:`validate_table` is the one entry: :func:`validate_frame` (a DataFrame in memory) and
:func:`validate_uri` (a Parquet or CSV file, S3 or local; Parquet is streamed) call it. GX computes
and judges every expectation (:mod:`~mlops.validation.engine`), and renders the Data Docs page.
GX is imported inside functions only, once per process (its import takes seconds); analytics
and progress bars are off and its INFO chatter is kept out of task logs.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from mlops import artifacts
from mlops.config import DatasetConfig
from mlops.errors import ConfigError
from mlops.validation.batch import is_labelled, open_batch
from mlops.validation.chunks import CHUNK_ROWS, FrameTable, Table
from mlops.validation.hints import DEFAULT_STYLE, check_style
from mlops.validation.outcome import (
    PARTIAL_UNEXPECTED_COUNT,
    clip,
    outcome,
    summary_lines,
    verdict_line,
    with_context,
)
from mlops.validation.results import ValidationReport
from mlops.validation.suite import load_suite, select_scope, suite_sha256

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
#: The last GX ExpectationSuite built, by the sha256 of its suite dict (a window validates many days).
_GX_SUITES: dict[str, Any] = {}


@functools.cache
def _gx():
    """Import GX (once per process) with analytics off and its INFO chatter out of task logs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    # GX pins some module loggers to INFO (e.g. "Created temporary directory ..." per context)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("great_expectations") and isinstance(logger, logging.Logger):
            if logger.level == logging.NOTSET or logger.level >= logging.WARNING:
                continue
            logger.setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # A mistyped column makes GX warn with every failed metric's traceback; the same errors are in
    # the results (exception_info), reported as "N checks on it could not run" next to the type check.
    logging.getLogger("great_expectations.validator.metrics_calculator").setLevel(logging.ERROR)
    return gx


def _gx_suite(gx, suite: dict[str, Any]):
    """The GX ExpectationSuite of a suite dict; an invalid entry is refused, never silently dropped."""
    configs = [{k: e[k] for k in ("type", "kwargs", "meta") if k in e} for e in suite.get("expectations", [])]
    fix = f"fix include/expectations/{suite['name'].split('.')[0]}.json."
    try:
        gx_suite = gx.ExpectationSuite(
            name=suite["name"], expectations=configs, meta=dict(suite.get("meta") or {})
        )
    except Exception as err:  # pydantic/GX errors from one bad entry
        detail = " ".join(str(err).split())[:300]
        raise ConfigError(
            f"Expectation suite {suite['name']!r} has invalid expectations: {detail}; {fix}"
        ) from err
    if len(gx_suite.expectations) != len(configs):  # GX logs and drops invalid entries: refuse instead
        known = {
            (e.expectation_type, json.dumps(e.configuration.kwargs, sort_keys=True, default=str))
            for e in gx_suite.expectations
        }
        bad = [
            c["type"]
            for c in configs
            if (c["type"], json.dumps(c["kwargs"], sort_keys=True, default=str)) not in known
        ]
        raise ConfigError(
            f"Expectation suite {suite['name']!r} has {len(configs) - len(gx_suite.expectations)} invalid "
            f"expectations ({bad[:5]}); {fix}"
        )
    return gx_suite


def _plain(obj: Any) -> Any:
    """numpy scalars -> Python (GX 1.24 leaks np.bool/np.float64 that its serializer and renderer reject)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v) for v in obj)
    item = getattr(obj, "item", None)
    if callable(item) and type(obj).__module__ == "numpy":
        return item()
    return obj


def _docs_page(result) -> str | None:
    """GX's Data Docs page for a validation result (None if rendering fails: it is a convenience)."""
    try:
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        page = ValidationResultsPageRenderer().render(result)
        return DefaultJinjaPageView().render(page, data_context_id=None, show_how_to_buttons=False)
    except Exception as err:  # never fail a validation over the page
        log.warning("GX Data Docs rendering failed (%s); using the plain fallback page", err)
        return None


def _clip_samples(result: dict[str, Any]) -> dict[str, Any]:
    """GX's sample lists with long values cut (they reach the Data Docs page and the result JSON)."""
    out = dict(result)
    if "partial_unexpected_list" in out:
        out["partial_unexpected_list"] = [clip(v) for v in out["partial_unexpected_list"] or []]
    if "partial_unexpected_counts" in out:
        out["partial_unexpected_counts"] = [
            {**c, "value": clip(c.get("value"))} if isinstance(c, dict) else c
            for c in out["partial_unexpected_counts"] or []
        ]
    return out


def _present(suite: dict[str, Any], columns: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """``suite`` without the checks on columns the batch lacks (their ``expect_column_to_exist``
    stays and fails), and how many were left out per missing column. GX would run them and
    report internal errors such as ``list index out of range``, one line each."""
    have, keep, not_run = set(columns), [], {}
    for e in suite["expectations"]:
        col = (e.get("kwargs") or {}).get("column")
        if col is None or col in have or e["type"] == "expect_column_to_exist":
            keep.append(e)
        else:
            not_run[col] = not_run.get(col, 0) + 1
    return {**suite, "expectations": keep}, not_run


def _run_gx(table: Table, suite: dict[str, Any], *, run_name: str, docs: bool):
    """Run ``suite`` on ``table``; returns (GX result dict, Data Docs HTML or None).

    GX computes the metrics chunk by chunk and judges the merged ones
    (:func:`~mlops.validation.engine.evaluate`). The page is rendered with GX's Data Docs
    renderer and page view (what the site builder runs); results are not routed through a
    Checkpoint because GX 1.24 with numpy 2 stores ``np.bool`` successes
    (expect_column_quantile_values_to_be_between) that its result store cannot serialize.
    """
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    from mlops.validation.engine import evaluate

    result_format = {"result_format": "BASIC", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}
    digest = suite_sha256(suite)
    if digest not in _GX_SUITES:  # built (and checked) once per process and suite
        if len(_GX_SUITES) >= 8:
            _GX_SUITES.clear()
        _GX_SUITES[digest] = _gx_suite(gx, suite)
    result = evaluate(table, _GX_SUITES[digest], result_format=result_format, suite_key=digest)
    for r in result.results:
        r.success = bool(r.success)
        r.result = _plain(r.result)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    raw = _plain(result.to_json_dict())  # full samples: the messages show their original length
    for r in result.results:
        r.result = _clip_samples(r.result)  # the page shows cut ones
    html = _docs_page(result) if docs else None
    return raw, html


def fallback_html(result: artifacts.ValidationResult) -> str:
    """Minimal self-rendered page, used only if GX's page renderer fails."""
    rows = "".join(
        f"<tr class='{'ok' if c.success else 'bad'}'><td>{'pass' if c.success else 'FAIL'}</td>"
        f"<td>{escape(c.column or 'table')}</td><td>{escape(c.expectation)}</td><td>{escape(c.message)}</td></tr>"
        for c in result.checks
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Validation "
        f"{escape(result.batch_uri)}</title><style>body{{font-family:sans-serif}}.bad{{background:#fdd}}"
        "td{padding:2px 8px}</style></head><body>"
        f"<h1>{escape(verdict_line(result))}</h1><table>{rows}</table></body></html>"
    )


def _checks_in_suite_order(
    gx_result: dict[str, Any], suite: dict[str, Any]
) -> list[artifacts.ExpectationOutcome]:
    def key(expectation: str, kwargs: dict[str, Any]) -> str:
        return json.dumps([expectation, kwargs], sort_keys=True, default=str)

    order = {key(e["type"], e["kwargs"]): i for i, e in enumerate(suite["expectations"])}
    checks = [outcome(r) for r in gx_result.get("results", [])]
    return sorted(checks, key=lambda c: order.get(key(c.expectation, c.kwargs), 1 << 30))


def validate_table(
    table: Table,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    batch_uri: str = "<frame>",
    suite: dict[str, Any] | None = None,
    docs: bool = False,
    run_id: str | None = None,
    source: artifacts.BatchSource | None = None,
    hint_style: str = DEFAULT_STYLE,
) -> ValidationReport:
    """Validate a batch (a :class:`~mlops.validation.chunks.Table`) against the dataset's GX suite.

    Parameters
    ----------
    table : the batch (features, plus the target when ``labelled``), read chunk by chunk.
    cfg : the dataset config.
    labelled : also run the labelled-scope expectations (target values, class balance). With
        ``labels.in_features`` a batch that has the target column is labelled anyway.
    batch_uri : where the batch came from, for messages and the result.
    suite : a suite dict (as :func:`build_suite` returns); default: the committed file.
    docs : also render the GX Data Docs page into ``report.docs_html``.
    run_id : the run that validates (names the GX run; recorded in the result).
    source : the exact bytes read (:func:`open_batch`); None for a frame built in memory.
    hint_style : ``cli``, ``dag`` or ``python``: the words fix hints use (``--labelled``,
        ``Param labelled=true``, ``labelled=True``).

    Returns
    -------
    ValidationReport
        Its result's ``suite_digest`` is the sha256 of the scoped suite (:func:`suite_sha256`).
    """
    started = time.perf_counter()
    check_style(hint_style)
    labelled = is_labelled(table, cfg, labelled)
    suite = load_suite(cfg, labelled=labelled) if suite is None else select_scope(suite, labelled=labelled)
    digest = suite_sha256(suite)
    suite, not_run = _present(suite, table.columns)
    base = run_id or (batch_uri.rsplit("/", 2)[-2] if "/" in batch_uri else batch_uri)
    gx_result, html = _run_gx(table, suite, run_name=artifacts.safe_key(base)[:100] or "frame", docs=docs)
    checks = with_context(_checks_in_suite_order(gx_result, suite), cfg, not_run=not_run, style=hint_style)
    stats = gx_result.get("statistics") or {}
    result = artifacts.ValidationResult(
        dataset=cfg.name,
        batch_uri=batch_uri,
        success=bool(gx_result.get("success")),
        labelled=labelled,
        row_count=int(table.row_count),
        column_count=len(table.columns),
        suite=suite["name"],
        suite_digest=digest,
        evaluated=int(stats.get("evaluated_expectations", len(checks))),
        successful=int(stats.get("successful_expectations", sum(c.success for c in checks))),
        checks=checks,
        summary=summary_lines([c for c in checks if not c.success]),
        checked_at=artifacts.utc_now_iso(),
        seconds=round(time.perf_counter() - started, 3),
        gx_version=str((gx_result.get("meta") or {}).get("great_expectations_version", "")),
        source=source,
        run_id=run_id,
        validation_uri=None,
        docs_uri=None,
        quarantine_uri=None,
    )
    return ValidationReport(result, docs_html=(html or fallback_html(result)) if docs else None)


def validate_frame(
    df: pd.DataFrame,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    batch_uri: str = "<frame>",
    suite: dict[str, Any] | None = None,
    docs: bool = False,
    run_id: str | None = None,
    source: artifacts.BatchSource | None = None,
    hint_style: str = DEFAULT_STYLE,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationReport:
    """Validate a DataFrame in memory, ``chunk_rows`` rows at a time; the rest as :func:`validate_table`."""
    return validate_table(
        FrameTable(df, chunk_rows),
        cfg,
        labelled=labelled,
        batch_uri=batch_uri,
        suite=suite,
        docs=docs,
        run_id=run_id,
        source=source,
        hint_style=hint_style,
    )


def validate_uri(
    client,
    uri: str,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    docs: bool = False,
    run_id: str | None = None,
    hint_style: str = DEFAULT_STYLE,
) -> ValidationReport:
    """Read a Parquet or CSV batch from S3 (or a local path) and validate it; records nothing.

    A Parquet batch is streamed (:func:`open_batch`): memory stays flat however many rows it has.

    Raises
    ------
    InputReadError
        If the input cannot be read as a table at all (see :func:`open_batch`).
    """
    with open_batch(client, uri, cfg, labelled=labelled, hint_style=hint_style) as (table, source):
        return validate_table(
            table,
            cfg,
            labelled=labelled,
            batch_uri=uri,
            docs=docs,
            run_id=run_id,
            source=source,
            hint_style=hint_style,
        )
