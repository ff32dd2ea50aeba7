"""The whole run in one process (CLI, benchmark, tests, the un-mapped operator): plan, shards, publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops import artifacts
from mlops.config import DatasetConfig
from mlops.scoring.plan import plan_scoring
from mlops.scoring.publish import ScoringResult, publish_partition
from mlops.scoring.shard import ChunkProgress, score_shard


def score_batch(
    client: Any,
    cfg: DatasetConfig,
    *,
    input_uri: str,
    output_uri: str,
    version: str = artifacts.PRODUCTION,
    bucket: str | None = None,
    run_id: str | None = None,
    shards: int = 1,
    chunk_size: int | None = None,
    max_reject_fraction: float | None = None,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> ScoringResult:
    """Plan, score every shard (in turn) and publish.

    The model reference is resolved once, before the first chunk; a pointer moved during
    the run does not change which model scores the remaining chunks.
    """
    plan, model = plan_scoring(
        client,
        cfg,
        input_uri=input_uri,
        output_uri=output_uri,
        version=version,
        bucket=bucket,
        run_id=run_id,
        shards=shards,
        chunk_size=chunk_size,
    )
    results = [score_shard(client, cfg, plan, s.index, model=model, on_chunk=on_chunk) for s in plan.shards]
    return publish_partition(client, cfg, results, max_reject_fraction=max_reject_fraction)
