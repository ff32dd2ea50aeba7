"""The demo's schedule: each DAG run starts once the runs it needs are done, at most ``parallel`` at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mlops.dev import demo


def test_plan_keys_are_unique_and_dependencies_come_earlier_in_the_story():
    specs = demo.plan()
    keys = [s.key for s in specs]
    assert len(set(keys)) == len(keys) and all(keys)
    for i, spec in enumerate(specs):
        assert set(spec.after) <= set(keys[:i]) | {k for k in keys if k != spec.key}, spec.key
    by_key = {s.key: s for s in specs}
    assert by_key["diabetes"].after == ()  # another dataset: beside the credit story
    assert "rollback" in by_key["score 2026-02-20"].after
    assert {"score 2026-02-17", "score 2026-02-18", "score 2026-02-19"} <= set(by_key["monitor quiet"].after)


def test_runs_start_after_their_dependencies_never_more_than_parallel(monkeypatch):
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    live, peak, lock = [0], [0], threading.Lock()

    def fake_run(env, template, logs, i, spec):
        with lock:
            started[spec.key] = time.monotonic()
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.02)
        with lock:
            live[0] -= 1
            ended[spec.key] = time.monotonic()
        return {"key": spec.key, "i": i}

    monkeypatch.setattr(demo, "_run_one", fake_run)
    entries = demo._run_all({}, Path("unused.db"), Path("."), parallel=2)
    specs = demo.plan()
    assert [e["key"] for e in entries] == [s.key for s in specs]  # story order
    assert [e["i"] for e in entries] == list(range(1, len(specs) + 1))
    assert peak[0] == 2
    for spec in specs:
        for need in spec.after:
            assert ended[need] <= started[spec.key], (need, spec.key)
