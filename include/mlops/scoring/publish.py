"""Publishing a partition: check the shards, enforce the reject share, write ``_SUCCESS`` last.

:func:`publish_partition` checks that every shard of the plan is there and that all agree on
the run, the model version and the input version; fails if the reject share exceeds
``scoring.max_reject_fraction``; checks that every listed object is still the version its
shard wrote; writes the :class:`~mlops.artifacts.SuccessMarker` in one PUT (readers see the
old or the new one); and only then deletes every other object under *this* partition's prefix
(stale attempts, parts of failed runs). Nothing outside the partition is touched.

If the reject share is too high, ``_SUCCESS`` is not written (the previously published
partition, if any, stays as it was) and the error names the rejects files to inspect.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops import artifacts, storage
from mlops.artifacts import PartEntry, SuccessMarker
from mlops.config import DatasetConfig
from mlops.errors import MLOpsError, ValidationFailed
from mlops.scoring.shard import ShardResult

log = logging.getLogger(__name__)

#: Fields every shard result of one run must agree on.
_SAME_RUN = (
    "dataset",
    "output_uri",
    "run_id",
    "attempt",
    "model_ref",
    "model_version",
    "model_sha256",
    "input_uri",
    "input_version_id",
    "input_rows",
    "num_shards",
)


class TooManyRejects(ValidationFailed):
    """More rows were rejected than ``scoring.max_reject_fraction`` allows. The partition is not published."""


@dataclass(frozen=True)
class ScoringResult:
    """A published partition: the ``_SUCCESS`` it wrote, summarised for logs, XCom and the CLI."""

    dataset: str
    output_uri: str
    success_uri: str
    run_id: str
    attempt: str
    model_ref: str
    model_version: str
    input_uri: str
    input_version_id: str | None
    rows_in: int
    rows_scored: int
    rows_rejected: int
    reject_fraction: float
    max_reject_fraction: float
    num_shards: int
    part_uris: list[str]
    rejects_uris: list[str]
    stale_removed: int
    seconds: float

    @classmethod
    def of(cls, marker: SuccessMarker, *, stale_removed: int, seconds: float) -> ScoringResult:
        return cls(
            dataset=marker.dataset,
            output_uri=marker.partition_uri,
            success_uri=artifacts.success_uri(marker.partition_uri),
            run_id=marker.run_id,
            attempt=marker.attempt,
            model_ref=marker.model_ref,
            model_version=marker.model_version,
            input_uri=marker.input_uri,
            input_version_id=marker.input_version_id,
            rows_in=marker.rows_in,
            rows_scored=marker.rows_scored,
            rows_rejected=marker.rows_rejected,
            reject_fraction=marker.reject_fraction,
            max_reject_fraction=marker.max_reject_fraction,
            num_shards=marker.num_shards,
            part_uris=marker.part_uris,
            rejects_uris=marker.rejects_uris,
            stale_removed=stale_removed,
            seconds=seconds,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        return [
            f"model: {self.model_ref} -> {self.model_version}",
            f"input: {self.input_uri} (VersionId {self.input_version_id})",
            f"rows: {self.rows_in} in, {self.rows_scored} scored, {self.rows_rejected} rejected "
            f"({self.reject_fraction:.2%} <= max {self.max_reject_fraction:.2%})",
            f"published: {self.success_uri} ({self.num_shards} shard(s), {len(self.part_uris)} part(s))",
        ]


# ---------------------------------------------------------------- checks
def _checked_results(shard_results: Sequence[ShardResult | Mapping[str, Any]]) -> list[ShardResult]:
    """The shard results in shard order; every shard exactly once, all from the same plan."""
    results = sorted(
        (r if isinstance(r, ShardResult) else ShardResult.from_dict(r) for r in shard_results),
        key=lambda r: r.shard_index,
    )
    if not results:
        raise MLOpsError(
            "publish_partition got no shard results; the scoring tasks produced nothing to publish."
        )
    for name in _SAME_RUN:
        values = {str(getattr(r, name)) for r in results}
        if len(values) > 1:
            raise MLOpsError(
                f"Shards disagree on {name}: {sorted(values)}; every shard of a run must use the plan of "
                "that run. Re-run the scoring DAG."
            )
    n = results[0].num_shards
    indices = [r.shard_index for r in results]
    if indices != list(range(n)):
        raise MLOpsError(
            f"Shard results cover shards {indices} but the plan has {n} shard(s) (0..{n - 1}); "
            "a scoring task is missing or ran twice. Re-run the scoring DAG."
        )
    rows_in = sum(r.rows_in for r in results)
    if rows_in != results[0].input_rows:
        raise MLOpsError(
            f"Shards scored {rows_in} rows but the input has {results[0].input_rows}; re-run the scoring DAG."
        )
    return results


def _check_reject_share(
    cfg: DatasetConfig, results: list[ShardResult], max_fraction: float
) -> tuple[float, Counter]:
    """``(reject fraction, reasons)``; raises :class:`TooManyRejects` above ``max_fraction``."""
    rows_in = sum(r.rows_in for r in results)
    rejected = sum(r.rows_rejected for r in results)
    fraction = rejected / rows_in if rows_in else 0.0
    reasons: Counter = Counter()
    for r in results:
        reasons.update(r.reject_reasons)
    verdict = "pass" if fraction <= max_fraction else "FAIL"
    log.info(
        "check reject share: %.4f (%d of %d rows) <= max %.4f -> %s",
        fraction,
        rejected,
        rows_in,
        max_fraction,
        verdict,
    )
    if fraction > max_fraction:
        raise TooManyRejects(
            f"{rejected} of {rows_in} rows ({fraction:.2%}) of {results[0].input_uri} could not be scored "
            f"(max {max_fraction:.2%}); top reasons: {dict(reasons.most_common(3))}. Nothing was published; see "
            f"the rejects in {[r.rejects.uri for r in results if r.rows_rejected]}. Fix the batch, or raise "
            f"scoring.max_reject_fraction in include/configs/{cfg.name}.yaml."
        )
    return fraction, reasons


def _check_written(client: Any, entries: list[PartEntry]) -> None:
    """Every listed object is still there, at the version and size its shard wrote."""
    for entry in entries:
        meta = storage.head(client, entry.uri, entry.version_id)
        if meta is None or int(meta.get("ContentLength", -1)) != entry.size:
            raise MLOpsError(
                f"{entry.uri} (VersionId {entry.version_id}) is missing or has a different size than its shard "
                f"wrote ({entry.size} bytes); another writer touched this partition. Re-run the scoring DAG."
            )


def _remove_stale(client: Any, partition_uri: str, keep: set[str]) -> int:
    """Delete every object under the partition that ``_SUCCESS`` does not list; returns how many."""
    stale = [u for u in storage.list_uris(client, partition_uri) if u not in keep]
    for uri in stale:
        if storage.is_s3(uri):
            storage.delete(client, uri)
        else:
            Path(uri).unlink(missing_ok=True)
    if stale:
        log.info("removed %d stale object(s) of earlier attempts from %s", len(stale), partition_uri)
    return len(stale)


# ---------------------------------------------------------------- publish
def _marker(
    results: list[ShardResult], fraction: float, max_fraction: float, reasons: Counter
) -> SuccessMarker:
    first = results[0]
    return SuccessMarker.new(
        dataset=first.dataset,
        partition_uri=first.output_uri,
        run_id=first.run_id,
        attempt=first.attempt,
        model_ref=first.model_ref,
        model_version=first.model_version,
        model_sha256=first.model_sha256,
        input_uri=first.input_uri,
        input_version_id=first.input_version_id,
        rows_in=sum(r.rows_in for r in results),
        rows_scored=sum(r.rows_scored for r in results),
        rows_rejected=sum(r.rows_rejected for r in results),
        reject_fraction=round(fraction, 6),
        max_reject_fraction=max_fraction,
        num_shards=first.num_shards,
        parts=[r.part for r in results],
        rejects=[r.rejects for r in results],
        reject_reasons=dict(reasons.most_common(10)),
    )


def publish_partition(
    client: Any,
    cfg: DatasetConfig,
    shard_results: Sequence[ShardResult | Mapping[str, Any]],
    *,
    max_reject_fraction: float | None = None,
) -> ScoringResult:
    """Check the shards, enforce the reject share, write ``_SUCCESS`` last, then drop stale objects.

    Raises
    ------
    TooManyRejects
        The reject share is above ``max_reject_fraction`` (default: the config's). Nothing is published.
    MLOpsError
        Shards are missing, duplicated, disagree on the model or the input, or a listed part is missing.
    """
    started = time.perf_counter()
    results = _checked_results(shard_results)
    max_fraction = (
        cfg.scoring.max_reject_fraction if max_reject_fraction is None else float(max_reject_fraction)
    )
    fraction, reasons = _check_reject_share(cfg, results, max_fraction)
    marker = _marker(results, fraction, max_fraction, reasons)
    _check_written(client, marker.parts + marker.rejects)
    success_uri = artifacts.success_uri(marker.partition_uri)
    artifacts.write_artifact(client, success_uri, marker)
    keep = {success_uri} | {p.uri for p in marker.parts + marker.rejects}
    stale = _remove_stale(client, marker.partition_uri, keep)
    log.info(
        "published %s: %d rows scored by %s %s, %d rejected, %d shard(s)",
        success_uri,
        marker.rows_scored,
        marker.dataset,
        marker.model_version,
        marker.rows_rejected,
        marker.num_shards,
    )
    seconds = round(time.perf_counter() - started + sum(r.seconds for r in results), 3)
    return ScoringResult.of(marker, stale_removed=stale, seconds=seconds)
