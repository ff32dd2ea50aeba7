"""The rows of issue 13's table, each against its target, from the figures of one ``make bench`` run.

| what | target |
|---|---|
| scoring at 1M and 5M rows, validation included | (end to end + validation) / raw predict <= 2x |
| validation peak RSS | <= 1 GiB at 1M and 5M rows, flat |
| ``mlops validate`` on a 569-row file | <= 3 s wall (a fresh process) |
| the training window in ``mlops_training`` | a day already validated (same suite, same object version) is not validated again |
| ``make demo`` | < 180 s; read from the last ``.demo/summary.json`` (``make bench`` does not run the demo) |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RATIO = 2.0
RSS_MIB = 1024
CLI_S = 3.0
DEMO_S = 180.0


def _row(what: str, now: str, target: str, met: bool | None) -> str:
    verdict = "n/a" if met is None else ("met" if met else "NOT met")
    return f"| {what} | {now} | {target} | {verdict} |"


def _scoring_rows(scoring: list[dict[str, Any]]) -> list[str]:
    rows = []
    for r in scoring:
        if r.get("rows", 0) < 1_000_000 or r.get("gx_validate_s") is None:
            continue
        ratio = (r["end_to_end_s"] + r["gx_validate_s"]) / r["raw_predict_s"]
        rows.append(
            _row(
                f"scoring at {r['rows'] / 1e6:g}M rows, validation included",
                f"(e2e {r['end_to_end_s']:.2f} s + validation {r['gx_validate_s']:.2f} s) / raw predict "
                f"{r['raw_predict_s']:.2f} s = {ratio:.2f}x",
                f"<= {RATIO:g}x",
                ratio <= RATIO,
            )
        )
    big = [r for r in scoring if r.get("rows", 0) >= 1_000_000 and r.get("gx_peak_rss_mib")]
    if big:
        peaks = ", ".join(f"{r['gx_peak_rss_mib']:,.0f} MiB at {r['rows'] / 1e6:g}M" for r in big)
        growth = big[-1]["gx_peak_rss_mib"] / big[0]["gx_peak_rss_mib"] if len(big) > 1 else 1.0
        ok = all(r["gx_peak_rss_mib"] <= RSS_MIB for r in big) and growth <= 1.25
        rows.append(
            _row("validation peak RSS", f"{peaks} ({growth:.2f}x from first to last)", "<= 1 GiB, flat", ok)
        )
    return rows


def _demo_row() -> str:
    path = REPO / ".demo" / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return _row(
            "`make demo`", f"no {path.relative_to(REPO)} yet: run `make demo`", f"< {DEMO_S:g} s", None
        )
    seconds = float(summary.get("seconds") or 0)
    return _row(
        "`make demo`",
        f"{seconds:.0f} s (last run, {path.relative_to(REPO)}; ok={summary.get('ok')})",
        f"< {DEMO_S:g} s",
        seconds < DEMO_S,
    )


def report(results: dict[str, Any]) -> None:
    """Print the table from ``{bench module name: its main()'s return value}``."""
    lines = ["| what | now | target | |", "|---|---|---|---|"]
    lines += _scoring_rows(results.get("bench_scoring") or [])
    val = results.get("bench_validation") or {}
    if "cli_s" in val:
        lines.append(
            _row(
                f"`mlops validate` on a {val['cli_rows']}-row file",
                f"{val['cli_s']:.2f} s wall (median of {val['cli_runs_s']})",
                f"<= {CLI_S:g} s",
                val["cli_s"] <= CLI_S,
            )
        )
    w = val.get("window")
    if w:
        days = w["window_days"]
        lines.append(
            _row(
                f"training window ({days} days x {w['window_rows']} rows)",
                f"one task {w['first']['total_s']:.1f} s (vs {days} x {w['one_day']['total_s']:.1f} s in mapped "
                f"tasks); again: {w['again']['reused']}/{days} reused, none read, {w['again']['validate_s']:.1f} s",
                "a day already validated is not validated again",
                w["again"]["reused"] == days,
            )
        )
    lines.append(_demo_row())
    print("\nissue 13: each row against its target (one run of `make bench`)")
    print("\n".join(lines))
