"""The compare page's metric plot: one group of bars per metric, one bar per run (matplotlib, PNG)."""

from __future__ import annotations

import base64
import io

from mlops.tracking.records import RunInfo
from mlops.tracking.runs import metric_table


def metrics_png(runs: list[RunInfo]) -> str | None:
    """Base64 PNG of the metrics every run has, or ``None`` when they share none."""
    table = {k: v for k, v in metric_table(runs).items() if any(x is not None for x in v)}
    if not table:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 2), 3.2), dpi=110)
    try:
        for i, run in enumerate(runs):
            xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(names))]
            ys = [table[n][i] if table[n][i] is not None else 0.0 for n in names]
            ax.bar(xs, ys, width=width * 0.95, label=f"[{i + 1}] {run.run_key[:32]}")
        ax.set_xticks(range(len(names)), names)
        ax.set_title("holdout metrics (candidate)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(len(runs), 3))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
