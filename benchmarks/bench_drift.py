"""Drift on 1M rows x 20 features: ``mlops.monitoring`` vs Evidently's ``DataDriftPreset``, same Parquet files.

Evidently is not a runtime dependency and does not import under pandas 3, so it runs
in its own virtualenv (``.bench/evidently-venv``: pandas 2.3 + evidently 0.7.23),
created here on first use, as a subprocess with ``DO_NOT_TRACK=1``. Both sides read
the same two Parquet files; each side times its own drift computation (not the
interpreter start or the Parquet read, which are reported separately).

Reported: the time ratio and the per-column agreement on "drifted or not".
Target: >= 10x faster with >= 95% agreement.

The data: 16 numeric columns (normal, log-normal, gamma, beta, uniform, Poisson,
mixtures) and 4 categorical ones. The current file moves some of them: clear shifts,
scale changes and category swaps, plus small shifts that should *not* be called drift
at 1M rows (no alarm inflation), and a couple near the 0.1 threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
VENV = BENCH_DIR / "evidently-venv"
DATA_DIR = BENCH_DIR / "drift"
N_ROWS = 1_000_000
EVIDENTLY_PINS = ("pandas>=2.3,<2.4", "evidently==0.7.23", "pyarrow")
TARGET_SPEEDUP = 10.0
TARGET_AGREEMENT = 0.95

#: Column -> (generator, drift applied to the current file, expected drifted?).
#: Shifts are in units of the column's standard deviation.
SPEC: dict[str, tuple[str, str, bool]] = {
    "n_normal_still": ("normal", "none", False),
    "n_normal_shift_small": ("normal", "shift:0.03", False),
    "n_normal_shift": ("normal", "shift:0.5", True),
    "n_normal_scale": ("normal", "scale:1.6", True),
    "n_lognormal_still": ("lognormal", "none", False),
    "n_lognormal_shift": ("lognormal", "mult:1.4", True),
    "n_gamma_still": ("gamma", "none", False),
    "n_gamma_near_low": ("gamma", "shift:0.07", False),
    "n_gamma_near_high": ("gamma", "shift:0.14", True),
    "n_beta_still": ("beta", "none", False),
    "n_beta_tilt": ("beta", "beta:3.5", True),
    "n_uniform_still": ("uniform", "none", False),
    "n_poisson_still": ("poisson", "none", False),
    "n_poisson_shift": ("poisson", "poisson:14", True),
    "n_mixture_still": ("mixture", "none", False),
    "n_mixture_share": ("mixture", "mixture:0.5", True),
    "c_region_still": ("region", "none", False),
    "c_region_swap": ("region", "swap", True),
    "c_product_still": ("product", "none", False),
    "c_product_new": ("product", "new", True),
}


# ------------------------------------------------------------------ data
def _column(kind: str, drift: str, rng: np.random.Generator, n: int):
    mode, _, arg = drift.partition(":")
    a = float(arg) if arg and mode != "swap" else 0.0
    if kind == "normal":
        x = rng.normal(50, 10, n)
        return x + a * 10 if mode == "shift" else (50 + (x - 50) * a if mode == "scale" else x)
    if kind == "lognormal":
        x = rng.lognormal(10, 0.6, n)
        return x * a if mode == "mult" else x
    if kind == "gamma":
        x = rng.gamma(4.0, 4.5, n)
        return x + a * 9.0 if mode == "shift" else x  # sd of gamma(4, 4.5) = 9
    if kind == "beta":
        return rng.beta(2, a if mode == "beta" else 5, n)
    if kind == "uniform":
        return rng.uniform(-1, 1, n)
    if kind == "poisson":
        return rng.poisson(a if mode == "poisson" else 10, n).astype(float)
    if kind == "mixture":
        share = a if mode == "mixture" else 0.2
        return np.where(rng.random(n) < share, rng.normal(80, 5, n), rng.normal(40, 8, n))
    if kind == "region":
        p = [0.3, 0.25, 0.2, 0.15, 0.1]
        if mode == "swap":
            p = p[::-1]
        return rng.choice(["north", "south", "east", "west", "central"], n, p=p)
    if kind == "product":
        cats = ["basic", "plus", "premium", "family", "student", "business"]
        p = [0.35, 0.25, 0.15, 0.1, 0.1, 0.05]
        if mode == "new":
            cats, p = cats + ["crypto"], [0.25, 0.2, 0.1, 0.1, 0.1, 0.05, 0.2]
        return rng.choice(cats, n, p=p)
    raise ValueError(kind)


def make_data(n: int = N_ROWS) -> tuple[Path, Path]:
    """Write ``reference.parquet`` and ``current.parquet`` (once; reused when present)."""
    import pandas as pd

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = DATA_DIR / "reference.parquet", DATA_DIR / "current.parquet"
    stamp = DATA_DIR / "spec.json"
    spec_text = json.dumps({"n": n, "spec": SPEC}, sort_keys=True)
    if ref_path.exists() and cur_path.exists() and stamp.exists() and stamp.read_text() == spec_text:
        return ref_path, cur_path
    rng_ref, rng_cur = np.random.default_rng(1), np.random.default_rng(2)
    ref = pd.DataFrame({c: _column(kind, "none", rng_ref, n) for c, (kind, _, _) in SPEC.items()})
    cur = pd.DataFrame({c: _column(kind, drift, rng_cur, n) for c, (kind, drift, _) in SPEC.items()})
    for frame in (ref, cur):
        for c in SPEC:
            if c.startswith("c_"):
                frame[c] = frame[c].astype(object)
    ref.to_parquet(ref_path, index=False)
    cur.to_parquet(cur_path, index=False)
    stamp.write_text(spec_text)
    return ref_path, cur_path


# ------------------------------------------------------------------ ours
def run_ours(ref_path: Path, cur_path: Path) -> dict:
    import pandas as pd

    from mlops import monitoring, profiling
    from mlops.config import MonitoringSpec

    t0 = time.perf_counter()
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    read_s = time.perf_counter() - t0
    numeric = [c for c in SPEC if c.startswith("n_")]
    categorical = [c for c in SPEC if c.startswith("c_")]
    t1 = time.perf_counter()
    profile = profiling.profile_frame(ref, numeric, categorical, dataset="bench")
    t2 = time.perf_counter()
    report = monitoring.compute_drift(profile, cur, MonitoringSpec())
    t3 = time.perf_counter()
    return {
        "read_s": read_s,
        "profile_s": t2 - t1,
        "drift_s": t3 - t2,
        "total_s": t3 - t1,
        "drifted": {f.feature: f.drift_detected for f in report.features},
        "scores": {f.feature: (f.method, f.score) for f in report.features},
        "verdict": report.verdict,
    }


# ------------------------------------------------------------------ Evidently (separate venv)
EVIDENTLY_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
t0 = time.perf_counter()
from evidently import Report
from evidently.presets import DataDriftPreset
import_s = time.perf_counter() - t0
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
t1 = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
run_s = time.perf_counter() - t1
drifted, scores = {}, {}
for m in snapshot.dict()["metrics"]:
    name = m.get("metric_name", "")
    cfg = m.get("config", {})
    column = cfg.get("column")
    if column is None or not name.startswith("ValueDrift"):
        continue
    method = cfg.get("method")
    threshold = cfg.get("threshold")
    value = m.get("value")
    # Evidently: p-value tests drift below the threshold, distances at or above it.
    is_p = method and any(k in str(method).lower() for k in ("p_value", "ks", "chi", "z-test", "z_test"))
    drifted[column] = bool(value < threshold) if is_p else bool(value >= threshold)
    scores[column] = [str(method), value, threshold]
print(json.dumps({"import_s": import_s, "run_s": run_s, "drifted": drifted, "scores": scores,
                  "pandas": pd.__version__}))
"""


def ensure_evidently_venv() -> Path:
    """Create ``.bench/evidently-venv`` with pandas 2.3 + evidently 0.7.23 if it is missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pandas; assert pandas.__version__.startswith('2.3')"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {VENV} (pandas 2.3 + evidently 0.7.23; one-off, a minute or two) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_PINS], check=True)
    return python


def run_evidently(ref_path: Path, cur_path: Path) -> dict:
    python = ensure_evidently_venv()
    script = BENCH_DIR / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    env = {**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"}
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), str(script), str(ref_path), str(cur_path)], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"Evidently subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


# ------------------------------------------------------------------ main
def main() -> dict:
    t0 = time.perf_counter()
    ref_path, cur_path = make_data()
    print(
        f"data: {N_ROWS:,} rows x {len(SPEC)} columns -> {DATA_DIR} ({time.perf_counter() - t0:.1f}s)",
        flush=True,
    )
    ours = run_ours(ref_path, cur_path)
    print(
        f"mlops.monitoring: profile {ours['profile_s']:.2f}s + drift {ours['drift_s']:.2f}s = {ours['total_s']:.2f}s "
        f"(parquet read {ours['read_s']:.2f}s, not counted)",
        flush=True,
    )
    evid = run_evidently(ref_path, cur_path)
    print(
        f"Evidently 0.7.23 DataDriftPreset (pandas {evid['pandas']}): run {evid['run_s']:.1f}s "
        f"(import {evid['import_s']:.1f}s, subprocess wall {evid['wall_s']:.1f}s)",
        flush=True,
    )
    columns = list(SPEC)
    rows, agree = [], 0
    for c in columns:
        mine, theirs, expected = ours["drifted"].get(c), evid["drifted"].get(c), SPEC[c][2]
        agree += mine == theirs
        method, score = ours["scores"][c]
        e_method, e_value, e_thr = evid["scores"].get(c, ["?", None, None])
        rows.append(
            f"  {c:<22} ours {'DRIFT' if mine else 'ok':<5} ({method} {score:.4f})   "
            f"evidently {'DRIFT' if theirs else 'ok':<5} ({e_method} {e_value if e_value is None else round(e_value, 4)})"
            f"   expected {'DRIFT' if expected else 'ok'}{'' if mine == theirs else '   <-- disagree'}"
        )
    print("\n".join(rows))
    ratio = evid["run_s"] / ours["total_s"]
    agreement = agree / len(columns)
    correct = sum(ours["drifted"][c] == SPEC[c][2] for c in columns) / len(columns)
    print(
        f"RESULT drift 1M x {len(columns)}: ours {ours['total_s']:.2f}s vs Evidently {evid['run_s']:.1f}s -> "
        f"{ratio:.0f}x faster (target >= {TARGET_SPEEDUP:.0f}x: {'met' if ratio >= TARGET_SPEEDUP else 'NOT met'}); "
        f"agreement {agree}/{len(columns)} = {agreement:.0%} (target >= {TARGET_AGREEMENT:.0%}: "
        f"{'met' if agreement >= TARGET_AGREEMENT else 'NOT met'}); ours vs injected truth {correct:.0%}",
        flush=True,
    )
    result = {
        "rows": N_ROWS,
        "columns": len(columns),
        "ours_s": ours["total_s"],
        "ours_profile_s": ours["profile_s"],
        "ours_drift_s": ours["drift_s"],
        "evidently_s": evid["run_s"],
        "speedup": ratio,
        "agreement": agreement,
        "ours_vs_truth": correct,
    }
    (BENCH_DIR / "bench_drift.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
