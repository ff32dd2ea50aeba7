"""Scoring one shard: stream its row range through the pinned model into a part and a rejects file.

:func:`score_shard` streams rows ``[row_start, row_end)`` of the pinned input with
``pyarrow.parquet.ParquetFile.iter_batches`` over ranged S3 GETs, re-cut into chunks of
``scoring.chunk_size`` rows (one chunk read ahead in a thread). Each chunk is coerced, scored
and appended to a Parquet writer that streams into an S3 multipart upload. Memory is bounded
by a few chunks plus one Parquet row group of the input and does not grow with the input.

The part and the rejects file are written under ``attempt=<a>/`` and are not published: the
:class:`ShardResult` (the XCom of a mapped scoring task) carries their
:class:`~mlops.artifacts.PartEntry`, which :func:`~mlops.scoring.publish.publish_partition`
lists in ``_SUCCESS``. A retry writes the same keys with the same bytes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from mlops import artifacts
from mlops.artifacts import PartEntry
from mlops.config import DatasetConfig
from mlops.errors import ConfigError, InputReadError, MLOpsError
from mlops.scoring.chunk import ChunkScorer
from mlops.scoring.io import Committed, iter_chunks, open_parquet, open_sink, prefetch
from mlops.scoring.plan import ScoringPlan, Shard, check_input_schema, load_planned_model

if TYPE_CHECKING:
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardResult:
    """What one shard wrote (the XCom of a mapped scoring task): the plan's identity and two parts."""

    dataset: str
    output_uri: str
    run_id: str
    attempt: str
    model_ref: str
    model_version: str
    model_sha256: str
    input_uri: str
    input_version_id: str | None
    input_rows: int
    shard_index: int
    num_shards: int
    row_start: int
    row_end: int
    rows_in: int
    rows_scored: int
    rows_rejected: int
    part: PartEntry
    rejects: PartEntry
    seconds: float
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["part"], data["rejects"] = self.part.to_dict(), self.rejects.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardResult:
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise MLOpsError(
                f"Not a shard result: missing {sorted(names - set(data))}, unknown {sorted(set(data) - names)}; "
                "pass the score_batch outputs of the same run (re-run the scoring DAG after an upgrade)."
            )
        kwargs = dict(data)
        kwargs["part"] = PartEntry.from_dict(data["part"], source="shard result field part")
        kwargs["rejects"] = PartEntry.from_dict(data["rejects"], source="shard result field rejects")
        return cls(**kwargs)


@dataclass(frozen=True)
class ChunkProgress:
    """Passed to the ``on_chunk`` hook after each chunk is written (tests use it to interleave events)."""

    shard_index: int
    chunk_index: int
    chunk_start: int
    rows_done: int
    rows_total: int
    rows_scored: int
    rows_rejected: int
    seconds: float


@dataclass
class _Tally:
    """Running counts of one shard, logged every ``progress_interval_seconds``."""

    label: str
    total: int
    interval: float
    done: int = 0
    scored: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    last: float = 0.0

    def add(self, rows: int, scored: int, rejected: int, reasons: Counter) -> None:
        self.done += rows
        self.scored += scored
        self.rejected += rejected
        self.reasons.update(reasons)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def log(self, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - max(self.last, self.started) < self.interval:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        log.info(
            "%s: %d/%d rows (%.1f%%), %.0f rows/s, ETA %.1fs, %d rejected",
            self.label,
            self.done,
            self.total,
            pct,
            rate,
            eta,
            self.rejected,
        )


def _shard_of(
    plan: ScoringPlan | Mapping[str, Any], shard_index: int | None, cfg: DatasetConfig
) -> tuple[ScoringPlan, Shard]:
    """The plan (parsed from a mapped XCom if need be) and the shard to score."""
    if not isinstance(plan, ScoringPlan):
        if shard_index is None and "shard_index" in plan:
            shard_index = int(plan["shard_index"])
        plan = ScoringPlan.from_dict(plan)
    index = int(shard_index or 0)
    if not 0 <= index < plan.num_shards:
        raise ConfigError(
            f"The 'shard_index' parameter must be in [0, {plan.num_shards}). Got {index} instead."
        )
    if plan.dataset != cfg.name:
        raise ConfigError(f"The plan is for dataset {plan.dataset!r} but the config is {cfg.name!r}.")
    return plan, plan.shards[index]


def _open_pinned(client: Any, cfg: DatasetConfig, plan: ScoringPlan) -> pq.ParquetFile:
    """The pinned input, checked to be the object the plan saw."""
    pf = open_parquet(client, plan.input)
    if pf.metadata.num_rows != plan.input_rows:
        raise InputReadError(
            f"{plan.input_uri} has {pf.metadata.num_rows} rows but the plan pinned {plan.input_rows}; the input "
            "changed after planning. Re-run the scoring DAG."
        )
    check_input_schema(pf.schema_arrow, list(plan.features), cfg.id_column, plan.input_uri)
    return pf


def _entry(plan: ScoringPlan, shard: Shard, path: str, rows: int, done: Committed) -> PartEntry:
    return PartEntry(
        path=path,
        uri=plan.output_uri + path,
        rows=rows,
        size=done.size,
        sha256=done.sha256,
        version_id=done.version_id,
        shard=shard.index,
        row_start=shard.row_start,
        row_end=shard.row_end,
    )


def _stream(
    client: Any,
    pf: pq.ParquetFile,
    plan: ScoringPlan,
    shard: Shard,
    scorer: ChunkScorer,
    tally: _Tally,
    on_chunk: Callable[[ChunkProgress], None] | None,
) -> tuple[Committed, Committed]:
    """Score the shard's chunks into its part and rejects objects; commit both only if all rows were read."""
    import pyarrow.parquet as pq

    out_schema, rej_schema = scorer.bind(pf.schema_arrow.field(scorer.id_column).type)
    present = set(pf.schema_arrow.names)
    columns = [scorer.id_column] + [f.name for f in plan.features if f.name in present]
    with (
        open_sink(client, plan.part_uri(shard.index)) as part,
        open_sink(client, plan.rejects_uri(shard.index)) as rej,
    ):
        writer = pq.ParquetWriter(part, out_schema, compression="snappy")
        rej_writer = pq.ParquetWriter(rej, rej_schema, compression="snappy")
        chunks = prefetch(iter_chunks(pf, shard.row_start, shard.row_end, plan.chunk_size, columns))
        try:
            for k, (first_row, table) in enumerate(chunks):
                out, rejects, why = scorer.score(table, first_row)
                writer.write_table(out)
                if rejects.num_rows:
                    rej_writer.write_table(rejects)
                tally.add(table.num_rows, out.num_rows, rejects.num_rows, why)
                tally.log()
                if on_chunk is not None:
                    on_chunk(
                        ChunkProgress(
                            shard.index,
                            k,
                            first_row,
                            tally.done,
                            shard.rows,
                            tally.scored,
                            tally.rejected,
                            tally.seconds,
                        )
                    )
        finally:
            chunks.close()
            writer.close()
            rej_writer.close()
        if tally.done != shard.rows:
            raise InputReadError(
                f"{plan.input_uri} yielded {tally.done} rows for shard {shard.index} but the plan expects {shard.rows} "
                f"(rows [{shard.row_start}, {shard.row_end})); the file is inconsistent. Re-export the batch."
            )
        return part.commit(), rej.commit()


def score_shard(
    client: Any,
    cfg: DatasetConfig,
    plan: ScoringPlan | Mapping[str, Any],
    shard_index: int | None = None,
    *,
    model: Any = None,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> ShardResult:
    """Score one shard of a plan and write its part and rejects objects (not published).

    The model is the plan's pinned version (loaded through :mod:`mlops.models` and checked
    against the plan here unless given). A retry writes the same keys with the same bytes.
    ``on_chunk`` is called after each chunk.

    Raises
    ------
    InputReadError
        The pinned input changed, disappeared, or no longer matches the plan.
    IntegrityError
        The model artifact does not match its manifest or the plan.
    """
    plan, shard = _shard_of(plan, shard_index, cfg)
    tally = _Tally(
        f"shard {shard.index + 1}/{plan.num_shards} of {plan.input_uri}",
        shard.rows,
        cfg.scoring.progress_interval_seconds,
    )
    if model is None:
        model = load_planned_model(client, plan)
    pf = _open_pinned(client, cfg, plan)
    scorer = ChunkScorer(model, cfg, list(plan.features), plan.model_version, plan.run_id)
    log.info(
        "%s: rows [%d, %d) with %s %s in chunks of %d -> %s",
        tally.label,
        shard.row_start,
        shard.row_end,
        cfg.name,
        plan.model_version,
        plan.chunk_size,
        plan.part_uri(shard.index),
    )
    part, rejects = _stream(client, pf, plan, shard, scorer, tally, on_chunk)
    tally.log(final=True)
    log.info(
        "wrote %s (%d rows) and %s (%d rejected) in %.1fs",
        plan.part_uri(shard.index),
        tally.scored,
        plan.rejects_uri(shard.index),
        tally.rejected,
        tally.seconds,
    )
    return _result(plan, shard, tally, part, rejects)


def _result(
    plan: ScoringPlan, shard: Shard, tally: _Tally, part: Committed, rejects: Committed
) -> ShardResult:
    part_path = artifacts.part_path(plan.attempt, shard.index, plan.num_shards)
    rejects_path = artifacts.rejects_path(plan.attempt, shard.index, plan.num_shards)
    return ShardResult(
        dataset=plan.dataset,
        output_uri=plan.output_uri,
        run_id=plan.run_id,
        attempt=plan.attempt,
        model_ref=plan.model_ref,
        model_version=plan.model_version,
        model_sha256=plan.model_sha256,
        input_uri=plan.input_uri,
        input_version_id=plan.input_version_id,
        input_rows=plan.input_rows,
        shard_index=shard.index,
        num_shards=plan.num_shards,
        row_start=shard.row_start,
        row_end=shard.row_end,
        rows_in=tally.done,
        rows_scored=tally.scored,
        rows_rejected=tally.rejected,
        part=_entry(plan, shard, part_path, tally.scored, part),
        rejects=_entry(plan, shard, rejects_path, tally.rejected, rejects),
        seconds=round(tally.seconds, 3),
        reject_reasons=dict(tally.reasons.most_common(10)),
    )
