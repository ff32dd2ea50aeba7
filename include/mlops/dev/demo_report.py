"""Render the demo summary (``.demo/summary.json``) as readable text."""

from __future__ import annotations

from typing import Any

from mlops._util import fmt_value as _fmt


def _runs(summary: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [r for r in summary.get("runs", []) if r.get("section") == section]


def _find(xcom: dict[str, Any], prefix: str) -> dict[str, Any]:
    for key, value in xcom.items():
        if key.split("[")[0] == prefix and isinstance(value, dict):
            return value
    return {}


def render_runs(summary: dict[str, Any]) -> list[str]:
    lines = ["DAG runs (real Airflow, `airflow dags test`):"]
    for r in summary.get("runs", []):
        mark = "ok " if r.get("state") == r.get("expected") else "BAD"
        lines.append(
            f"  [{mark}] {r['dag_id']:<20} {r['logical_date']}  {r.get('state', '?'):<8} "
            f"{r.get('seconds', '?'):>6}s  {r['label']}"
        )
    return lines


def render_validation(summary: dict[str, Any], per_line: int = 6) -> list[str]:
    rows = summary.get("validation")
    if not isinstance(rows, list):
        return []
    lines = [f"Validation (Great Expectations), {len(rows)} credit batches checked:"]
    cells = [f"{row.get('date', '?')} {'PASS' if row.get('success') else 'REJECTED'}" for row in rows]
    lines += ["  " + "   ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    for row in rows:
        if row.get("success"):
            continue
        lines.append(f"  {row.get('date')}: REJECTED, quarantined to {row.get('quarantine_uri', '-')}")
        lines += [f"      {failure}" for failure in row.get("failures", [])]
        if row.get("docs_uri"):
            lines.append(f"      report: {row['docs_uri']}")
    return lines


def gate_table(rules: list[dict[str, Any]], indent: int = 0) -> list[str]:
    """The gate's rules as aligned columns, each sized to its longest cell (rule names can be long).

    Passing slice rules are left out (there is one per slice); failing ones are shown.
    """
    header = ["rule", "candidate", "production", "threshold", "verdict"]
    rows = [
        [
            str(rule.get("rule", "?")),
            _fmt(rule.get("candidate")),
            _fmt(rule.get("production")),
            str(rule.get("threshold", "")),
            str(rule.get("verdict")),
        ]
        for rule in rules
        if not (rule.get("kind") == "slice" and rule.get("verdict") != "fail")
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    widths[1] = max(widths[1], 10)
    widths[2] = max(widths[2], 10)
    pad = " " * indent
    return [
        f"{pad}{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:<{widths[3]}}  {row[4]}".rstrip()
        for row in [header, *rows]
    ]


def render_training(summary: dict[str, Any]) -> list[str]:
    lines = ["Training and the champion/challenger gate:"]
    for r in _runs(summary, "training"):
        xcom = r.get("xcom", {})
        gate = _find(xcom, "gate_model")
        publish = _find(xcom, "publish_model")
        promote = _find(xcom, "promote_model")
        lines.append(f"  {r['conf'].get('dataset')} @ {r['logical_date']} ({r['label']}): {r.get('state')}")
        if gate:
            lines.append(f"    {gate.get('verdict', 'BLESSED' if gate.get('blessed') else 'NOT BLESSED')}")
            lines += gate_table(gate.get("rules", []), indent=6)
        if publish:
            lines.append(f"    published: {publish.get('version')}  {publish.get('manifest_uri', '')}")
        if promote:
            lines.append(f"    promoted: production -> {promote.get('version')}")
    return lines


def render_registry(summary: dict[str, Any]) -> list[str]:
    reg = summary.get("registry")
    if not isinstance(reg, dict):
        return []
    lines = ["Registry (S3):"]
    for name, info in reg.items():
        if not isinstance(info, dict):
            continue
        pointer = info.get("production") or {}
        lines.append(f"  {name}: versions={info.get('versions')} production={pointer.get('version')}")
        for h in info.get("history", []):
            lines.append(
                f"    {h.get('time', '')}  {h.get('action', ''):<9} {h.get('from_version') or '-'} -> "
                f"{h.get('to_version') or h.get('version') or '-'}  by {h.get('actor', '?')}: "
                f"{h.get('reason', '')}"
            )
    return lines


def render_scoring(summary: dict[str, Any]) -> list[str]:
    lines = ["Batch scoring:"]
    for r in _runs(summary, "scoring"):
        res = _find(r.get("xcom", {}), "finalize_partition") or _find(r.get("xcom", {}), "score_batch")
        if res:
            lines.append(
                f"  {r['conf'].get('date')}: {res.get('rows_scored', res.get('rows'))} rows scored by "
                f"{res.get('model_version')} -> {res.get('success_uri', res.get('output_uri', ''))}"
            )
        else:
            lines.append(f"  {r['conf'].get('date')}: {r.get('state')} (tasks: {r.get('tasks')})")
    return lines


def render_monitoring(summary: dict[str, Any]) -> list[str]:
    lines = ["Monitoring:"]
    for r in _runs(summary, "monitoring"):
        xcom = r.get("xcom", {})
        drift = _find(xcom, "monitor_drift")
        perf = _find(xcom, "monitor_performance")
        lines.append(
            f"  night {r['conf'].get('date')}: verdict={drift.get('verdict', '?')} "
            f"drifted={drift.get('drifted_features', [])} retrain={r.get('tasks', {}).get('request_retrain')}"
        )
        if drift.get("report_uri"):
            lines.append(f"    report: {drift['report_uri']}")
        if perf:
            lines.append(f"    performance: {perf.get('summary', perf)}")
    return lines


def render(summary: dict[str, Any]) -> str:
    parts: list[list[str]] = [
        [
            "=" * 78,
            f"MLOps demo summary  (bucket s3://{summary.get('bucket')}, {summary.get('seconds')}s)",
            "=" * 78,
        ],
        render_runs(summary),
        render_validation(summary),
        render_training(summary),
        render_registry(summary),
        render_scoring(summary),
        render_monitoring(summary),
        [f"RESULT: {'OK' if summary.get('ok') else 'FAILED: ' + '; '.join(summary.get('failures', []))}"],
    ]
    return "\n\n".join("\n".join(p) for p in parts if p)
