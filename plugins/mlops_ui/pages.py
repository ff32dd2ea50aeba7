"""Server-rendered pages of the "ML models" UI: models, one model, runs, one run, comparisons.

Each function takes tracking records (:mod:`mlops.tracking`) and a :class:`Urls` and
returns an HTML string; no I/O happens here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from mlops.artifacts import MODEL_CARD_FILE
from mlops.tracking import viewer
from mlops.tracking.models import ModelDetail, ModelSummary
from mlops.tracking.records import Comparison, RunInfo, VersionInfo
from mlops_ui.html import (
    badge,
    blessing_badge,
    cell,
    esc,
    fmt,
    link,
    page,
    problems_note,
    query,
    seg,
    size,
    table,
    verdict_badge,
    when,
    who,
)

ROLLBACK_DAG = "mlops_rollback"


@dataclass(frozen=True)
class Urls:
    """Paths of this app (``base``, e.g. ``/mlops``) and of the Airflow UI (``airflow``, e.g. ``""``)."""

    base: str
    airflow: str = ""

    def model(self, dataset: str) -> str:
        return f"{self.base}/models/{seg(dataset)}"

    def run(self, ref: str) -> str:
        dataset, _, key = ref.partition("/")
        return f"{self.base}/runs/{seg(dataset)}/{seg(key)}"

    def artifact(self, uri: str) -> str:
        return viewer.viewer_path(uri, self.airflow)

    def dag(self, dag_id: str) -> str:
        return f"{self.airflow}/dags/{quote(dag_id, safe='')}"

    def dag_run(self, run: dict[str, Any]) -> str | None:
        if not run.get("dag_id") or not run.get("run_id"):
            return None
        return f"{self.dag(str(run['dag_id']))}/runs/{quote(str(run['run_id']), safe='')}"

    def rollback(self, dataset: str, version: str) -> str:
        return query(f"{self.model(dataset)}/rollback", {"version": version})


def _metric_names(items: list[VersionInfo] | list[RunInfo]) -> list[str]:
    names: list[str] = []
    primary = next((i.primary_metric for i in items if i.primary_metric), None)
    for item in items:
        names += [k for k in item.metrics if k not in names]
    return sorted(names, key=lambda n: (n != primary, n))


def _window(window: dict[str, Any]) -> str:
    if not window:
        return "-"
    return f"{window.get('start', '?')} .. {window.get('end', '?')}"


def _window_cell(window: dict[str, Any]) -> str:
    days = f"{window['window_days']} days" if window.get("window_days") else ""
    return f'<td class="nowrap" title="{esc(days)}">{esc(_window(window))}</td>'


def _time_cell(iso: str | None) -> str:
    return f'<td class="time" title="{esc(iso)}">{esc(when(iso))}</td>'


def _moved_by(urls: Urls, actor: str | None, run: dict[str, Any]) -> str:
    href = urls.dag_run(run)
    via = " " + link(href, "(DAG run)", top=True, title=str(actor or "")) if href else ""
    return esc(who(actor)) + via


def _dag_run_link(urls: Urls, run: dict[str, Any]) -> str:
    href = urls.dag_run(run)
    return link(href, run.get("run_id"), top=True, title="Open the DAG run in Airflow") if href else "-"


# ---------------------------------------------------------------- models
def models_page(models: list[ModelSummary], urls: Urls, bucket: str) -> str:
    rows = []
    for m in models:
        p, pv, night = m.production, m.production_version, m.monitoring
        metric = f"{pv.primary_metric} {fmt(pv.primary_value)}" if pv and pv.primary_metric else "-"
        report = (
            link(urls.artifact(night.report_uri), "report", new_tab=True)
            if night and night.report_uri
            else ""
        )
        rows.append(
            "<tr>"
            f"<td>{link(urls.model(m.dataset), m.dataset)}{_problem_badge(m.problems)}</td>"
            f"<td>{badge(p.version, 'prod') if p else badge('none')}</td>"
            f"<td>{esc(metric)}</td>"
            f"{_time_cell(p.updated_at if p else None)}"
            f"<td>{_moved_by(urls, p.actor, p.run) if p else '-'}</td>"
            f"<td>{esc(f'{p.action}: {p.reason}' if p else '-')}</td>"
            f"{cell(m.versions)}"
            f"<td>{verdict_badge(night.verdict) if night else '-'} {esc(night.day if night else '')} {report}</td>"
            "</tr>"
        )
    body = (
        "<h1>Registered models</h1>"
        f'<p class="sub">Bucket <code>{esc(bucket)}</code>. Production moves only through DAG runs '
        f"(promotion in <code>mlops_training</code>, <code>{ROLLBACK_DAG}</code>), so every change is audited.</p>"
        + table(
            [
                "Model",
                "Production",
                "Primary metric",
                "Production since",
                "Moved by",
                "Why",
                "Versions",
                "Latest monitoring",
            ],
            rows,
            empty="No registered model yet: run mlops_training to publish one.",
        )
    )
    return page("ML models", body, base=urls.base, active="Models")


def _version_row(v: VersionInfo, detail: ModelDetail, metrics: list[str], urls: Urls) -> str:
    prod = detail.production.version if detail.production else None
    tags = badge("production", "prod") if v.version == prod else ""
    run_ref = v.run_ref
    actions = []
    if MODEL_CARD_FILE in v.artifacts:
        actions.append(link(urls.artifact(v.artifacts[MODEL_CARD_FILE]), "Model card", new_tab=True))
    if v.version != prod and not v.retired:
        actions.append(
            link(
                urls.rollback(detail.dataset, v.version),
                "Roll back to this version",
                title=f"Opens the {ROLLBACK_DAG} trigger with {v.version}",
            )
        )
    run_cell = (
        link(urls.run(run_ref), v.run.get("run_id") or run_ref) if run_ref else esc(v.run.get("run_id"))
    )
    return (
        f"<tr><td class='nowrap'><b>{esc(v.version)}</b> {tags}</td>{_time_cell(v.created_at)}<td>{run_cell}</td>"
        f"<td>{esc(v.estimator)}</td>"
        + "".join(cell(v.metrics.get(m), num=True) for m in metrics)
        + f"<td>{blessing_badge(v.blessed)}{' ' + badge('forced', 'warn') if v.forced else ''}</td>"
        f"{_window_cell(v.window)}{cell(v.rows, num=True)}<td class='num'>{esc(size(v.size_bytes))}</td>"
        f"<td>{badge('retired ' + (v.retired_at or ''), 'warn') if v.retired else 'no'}</td>"
        f"<td class='nowrap'>{'<br>'.join(actions) or '-'}</td></tr>"
    )


def _diff_section(
    detail: ModelDetail, diff: Comparison | None, a: str, b: str, urls: Urls, show_all: bool
) -> str:
    options = [v.version for v in detail.versions]

    def select(name: str, chosen: str) -> str:
        opts = "".join(f"<option{' selected' if o == chosen else ''}>{esc(o)}</option>" for o in options)
        return f'<select name="{name}" aria-label="version {name}">{opts}</select>'

    keep = '<input type="hidden" name="all" value="true">' if show_all else ""
    form = (
        f'<form class="inline" method="get" action="{esc(urls.model(detail.dataset))}#diff">'
        f"{select('a', a)} vs {select('b', b)}{keep} <button type=submit>Compare</button></form>"
    )
    if not diff:
        return '<h2 id="diff">Compare two versions</h2>' + form
    toggle = query(urls.model(detail.dataset), {"a": a, "b": b, **({} if show_all else {"all": "true"})})
    summary = (
        f'<p class="sub">{len(diff.changed())} of {len(diff.rows)} rows differ (highlighted) · '
        f"{link(toggle + '#diff', 'only the differences' if show_all else 'show all rows')}</p>"
    )
    return (
        '<h2 id="diff">Compare two versions</h2>'
        + form
        + summary
        + comparison_table(diff, only_changed=not show_all)
    )


def comparison_table(
    comparison: Comparison, *, only_changed: bool = False, labels: list[str] | None = None
) -> str:
    rows = comparison.changed() if only_changed else comparison.rows
    out = []
    for section, key, values in rows:
        changed = not only_changed and len({repr(v) for v in values}) > 1
        out.append(
            f'<tr class="{"changed" if changed else ""}"><td>{esc(section)}</td><td><code>{esc(key)}</code></td>'
            + "".join(cell(v) for v in values)
            + "</tr>"
        )
    return table(["Section", "Key", *(labels or comparison.labels)], out, empty="nothing to compare")


def model_page(
    detail: ModelDetail, urls: Urls, diff: Comparison | None, a: str, b: str, *, show_all: bool = False
) -> str:
    p = detail.production
    metrics = _metric_names(detail.versions)[:4]
    night = detail.nights[0] if detail.nights else None
    cards = (
        '<div class="cards">'
        f'<div class="card"><div class="k">Production</div><div class="v">{esc(p.version if p else "none")}</div></div>'
        f'<div class="card"><div class="k">Moved</div><div>{esc(when(p.updated_at) if p else "-")}</div>'
        f'<div class="sub">{esc(f"{p.action} by {who(p.actor)}" if p else "")}</div></div>'
        f'<div class="card"><div class="k">Versions</div><div class="v">{len(detail.versions)}</div></div>'
        f'<div class="card"><div class="k">Latest monitoring</div><div class="v">'
        f"{verdict_badge(night.verdict) if night else '-'}</div><div class='sub'>{esc(night.day if night else '')}</div></div>"
        "</div>"
    )
    versions = table(
        [
            "Version",
            "Created",
            "Training run",
            "Estimator",
            *metrics,
            "Blessing",
            "Data window",
            "Rows",
            "Size",
            "Retired",
            "",
        ],
        [_version_row(v, detail, metrics, urls) for v in reversed(detail.versions)],
    )
    history = table(
        ["#", "Time", "Action", "From", "To", "By", "Reason"],
        [
            f"<tr>{cell(m.sequence, num=True)}{_time_cell(m.time)}<td>{esc(m.action)}"
            f"{' ' + badge('forced', 'warn') if m.forced else ''}"
            f"{' ' + badge('check', 'warn', title=m.problem) if m.problem else ''}</td>"
            f"<td>{esc(m.previous_version or '-')}</td><td><b>{esc(m.version)}</b></td>"
            f"<td>{_moved_by(urls, m.actor, m.run)}</td><td>{esc(m.reason)}</td></tr>"
            for m in reversed(detail.pointer_history)
        ],
        empty="Production has never been set.",
    )
    audit = table(
        ["Time", "Action", "Version", "By", "Reason", "DAG run"],
        [
            f"<tr>{_time_cell(e.created_at)}<td>{esc(e.action)}</td><td>{esc(e.version)}</td><td>{esc(who(e.actor))}</td>"
            f"<td>{esc(e.reason)}</td><td>{_dag_run_link(urls, e.run)}</td></tr>"
            for e in reversed(detail.audit)
        ],
    )
    nights = table(
        ["Night", "Verdict", "Model", "Drift share", "Drifted features", "Report"],
        [
            f"<tr><td>{esc(n.day)}</td><td>{verdict_badge(n.verdict)}</td><td>{esc(n.model_version)}</td>"
            f"{cell(n.drift_share, num=True)}<td>{esc(', '.join(n.drifted_features) or '-')}</td>"
            f"<td>{link(urls.artifact(n.report_uri), 'Drift report', new_tab=True) if n.report_uri else '-'}</td></tr>"
            for n in detail.nights
        ],
        empty="No monitored night yet.",
    )
    body = (
        f"<h1>{esc(detail.dataset)}</h1>"
        f'<p class="sub">{link(urls.base + "/models", "All models")} · '
        f"{link(query(urls.base + '/runs', {'dataset': detail.dataset}), 'Training runs')}</p>"
        f"{problems_note(detail.problems)}{cards}<h2>Versions</h2>{versions}"
        f"<h2>Production pointer history</h2>{history}"
        f"{_diff_section(detail, diff, a, b, urls, show_all)}"
        f"<h2>Monitoring</h2>{nights}<h2>Audit trail</h2>{audit}"
    )
    return page(f"{detail.dataset} - ML models", body, base=urls.base, active="Models")


def rollback_page(detail: ModelDetail, version: VersionInfo, urls: Urls) -> str:
    p = detail.production
    conf = {
        "dataset": detail.dataset,
        "target_version": version.version,
        "reason": "<why, at least 10 characters>",
    }
    body = (
        f"<h1>Roll back {esc(detail.dataset)} to {esc(version.version)}</h1>"
        f'<p class="sub">{link(urls.model(detail.dataset), "Back to " + detail.dataset)}</p>'
        f'<div class="note">Production is <b>{esc(p.version if p else "none")}</b>. A rollback is a run of the '
        f"<code>{ROLLBACK_DAG}</code> DAG, so it is checked like a promotion (manifest, checksums, smoke "
        "prediction), recorded in the audit trail with your user name, and visible in Airflow.</div>"
        "<ol><li>Open the trigger form: "
        + link(urls.dag(ROLLBACK_DAG), f"{ROLLBACK_DAG} in Airflow", top=True)
        + " and press <b>Trigger</b>.</li>"
        f"<li>Set <b>Model</b> = <code>{esc(detail.dataset)}</code>, <b>Target version</b> = "
        f"<code>{esc(version.version)}</code> and a <b>Reason</b>.</li>"
        "<li>Trigger; this page's model shows the new production version once the run succeeds.</li></ol>"
        '<p class="sub">Airflow 3.3 cannot pre-fill the trigger form from a link, so the values are listed here. '
        "From a shell:</p>"
        f"<pre>airflow dags trigger {ROLLBACK_DAG} --conf '{esc(json.dumps(conf))}'</pre>"
        f"<h2>{esc(version.version)}</h2>"
        + table(
            ["Created", "Estimator", "Blessing", "Data window", version.primary_metric or "metric"],
            [
                f"<tr>{_time_cell(version.created_at)}<td>{esc(version.estimator)}</td>"
                f"<td>{blessing_badge(version.blessed)}</td><td>{esc(_window(version.window))}</td>"
                f"{cell(version.primary_value, num=True)}</tr>"
            ],
        )
    )
    return page(f"Roll back {detail.dataset}", body, base=urls.base, active="Models")


# ---------------------------------------------------------------- runs
def _problem_badge(problems: list[str]) -> str:
    return " " + badge("unreadable records", "warn", title="; ".join(problems)) if problems else ""


def _run_status(r: RunInfo, urls: Urls) -> str:
    if r.published_as:
        return badge(f"published {r.published_as}", "ok") + _problem_badge(r.problems)
    return blessing_badge(r.blessed) + _problem_badge(r.problems)


def runs_page(runs: list[RunInfo], urls: Urls, dataset: str | None, datasets: list[str]) -> str:
    rows = []
    for r in runs:
        metric = f"{r.primary_metric} {fmt(r.primary_value)}" if r.primary_metric else "-"
        label = str(r.run.get("run_id") or r.run_key)
        rows.append(
            f'<tr><td><input type="checkbox" name="run" value="{esc(r.ref)}" aria-label="compare {esc(r.ref)}"></td>'
            f"<td>{link(urls.run(r.ref), label, title=r.run_key)}</td><td>{esc(r.dataset)}</td>"
            f"{_time_cell(r.written_at)}<td>{esc(r.estimator)}</td><td class='nowrap'>{esc(metric)}</td>"
            f"{_window_cell(r.window)}<td>{_run_status(r, urls)}</td><td>{_dag_run_link(urls, r.run)}</td></tr>"
        )
    choices = "".join(
        f"<option value='{esc(d)}'{' selected' if d == dataset else ''}>{esc(d)}</option>" for d in datasets
    )
    filt = (
        f'<form class="inline" method="get" action="{esc(urls.base)}/runs">Dataset '
        f"<select name='dataset'><option value=''>all</option>{choices}</select> <button>Show</button></form>"
    )
    body = (
        "<h1>Training runs</h1>"
        '<p class="sub">Every candidate a training run wrote, blessed or not. Tick two or more to compare.</p>'
        + filt
        + f'<form method="get" action="{esc(urls.base)}/runs/compare">'
        + table(
            [
                "",
                "Run",
                "Dataset",
                "Trained",
                "Estimator",
                "Primary metric",
                "Data window",
                "Verdict",
                "DAG run",
            ],
            rows,
            empty="No training run yet.",
        )
        + "<button type=submit>Compare selected</button></form>"
    )
    return page("Training runs", body, base=urls.base, active="Runs")


def run_page(r: RunInfo, urls: Urls) -> str:
    metric_rows = [
        f"<tr><td>{esc(k)}</td>{cell(v, num=True)}{cell(r.production_metrics.get(k), num=True)}</tr>"
        for k, v in r.metrics.items()
    ]
    param_rows = [f"<tr><td><code>{esc(k)}</code></td>{cell(v)}</tr>" for k, v in r.params.items()]
    param_rows += [f"<tr><td><code>best {esc(k)}</code></td>{cell(v)}</tr>" for k, v in r.best_params.items()]
    files = [
        f"<tr><td>{link(urls.artifact(r.prefix + f), f, new_tab=True)}</td></tr>"
        if viewer.artifact_kind(*_split(r.prefix + f))
        else f"<tr><td>{esc(f)}</td></tr>"
        for f in r.files
    ]
    body = (
        f"<h1>Run {esc(r.run_key)}</h1>"
        f'<p class="sub">{link(urls.base + "/runs", "All runs")} · dataset {link(urls.model(r.dataset), r.dataset)}'
        f" · DAG run {_dag_run_link(urls, r.run)} · <code>{esc(r.prefix)}</code></p>"
        + problems_note(r.problems)
        + '<div class="cards">'
        f'<div class="card"><div class="k">Verdict</div><div class="v">{_run_status(r, urls)}</div></div>'
        f'<div class="card"><div class="k">Estimator</div><div class="v">{esc(r.estimator)}</div></div>'
        f'<div class="card"><div class="k">{esc(r.primary_metric or "metric")}</div>'
        f'<div class="v">{esc(fmt(r.primary_value))}</div></div>'
        f'<div class="card"><div class="k">Data window</div><div>{esc(_window(r.window))}</div>'
        f'<div class="sub">train {esc(r.train_rows)} rows, holdout {esc(r.holdout_rows)} rows</div></div></div>'
        + (f'<p class="mono">{esc(r.verdict)}</p>' if r.verdict else "")
        + "<h2>Metrics (holdout)</h2>"
        + table(
            ["Metric", "Candidate", "Production at the time"],
            metric_rows,
            empty="Not evaluated yet.",
            narrow=True,
        )
        + "<h2>Params</h2>"
        + table(["Param", "Value"], param_rows, narrow=True)
        + "<h2>Libraries</h2>"
        + table(
            ["Library", "Version"],
            [f"<tr><td>{esc(k)}</td>{cell(v)}</tr>" for k, v in r.libraries.items()],
            narrow=True,
        )
        + "<h2>Files</h2>"
        + table(["File"], files, narrow=True)
    )
    return page(f"Run {r.run_key}", body, base=urls.base, active="Runs")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def compare_page(
    runs: list[RunInfo], comparison: Comparison, plot_png: str | None, urls: Urls, *, show_all: bool = False
) -> str:
    labels = [f"[{i + 1}] {r.run.get('run_id') or r.run_key}" for i, r in enumerate(runs)]
    heads = "".join(
        f"<li>[{i + 1}] {link(urls.run(r.ref), r.ref)} {_run_status(r, urls)}</li>"
        for i, r in enumerate(runs)
    )
    plot = (
        f'<img class="plot" alt="metrics of the compared runs" src="data:image/png;base64,{plot_png}">'
        if plot_png
        else ""
    )
    params = [("run", r.ref) for r in runs] + ([] if show_all else [("all", "true")])
    toggle = link(
        query(f"{urls.base}/runs/compare", params), "only the differences" if show_all else "show all rows"
    )
    body = (
        f"<h1>Compare {len(runs)} runs</h1>"
        f'<p class="sub">{link(urls.base + "/runs", "All runs")}</p>'
        f"<ul>{heads}</ul>{plot}<h2>Side by side</h2>"
        f'<p class="sub">{len(comparison.changed())} of {len(comparison.rows)} rows differ · {toggle}</p>'
        f"{comparison_table(comparison, labels=labels, only_changed=not show_all)}"
    )
    return page("Compare runs", body, base=urls.base, active="Runs")


# ---------------------------------------------------------------- artifacts and errors
def json_artifact_page(bucket: str, key: str, data: Any, raw_href: str, urls: Urls) -> str:
    pretty = json.dumps(data, indent=2, sort_keys=True, default=str)
    body = (
        f"<h1>{esc(key.rsplit('/', 1)[-1])}</h1>"
        f'<p class="sub"><code>s3://{esc(bucket)}/{esc(key)}</code> · {link(raw_href, "raw JSON")}</p>'
        f"<pre>{esc(pretty)}</pre>"
    )
    return page(key.rsplit("/", 1)[-1], body, base=urls.base)


def error_page(status: int, message: str, urls: Urls) -> str:
    """An error in the page frame: the status and its name, the one-line message, a way back."""
    try:
        name = HTTPStatus(status).phrase
    except ValueError:
        name = "Error"
    body = (
        f"<h1>{status} {esc(name)}</h1>"
        f'<div class="note warn" role="alert">{esc(message)}</div>'
        f'<p class="sub">{link(urls.base + "/models", "All models")} · {link(urls.base + "/runs", "All runs")}</p>'
    )
    return page(f"{status} {name} - ML models", body, base=urls.base)
