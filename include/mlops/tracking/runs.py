"""The runs view: every training run (each candidate, blessed or not) and side-by-side comparison.

A run is a candidate prefix ``candidates/<dataset>/<run_key>/`` with its
:class:`~mlops.artifacts.TrainingRecord` (``training.json``: params, data window, split,
library versions) and, once evaluated and gated, :class:`~mlops.artifacts.CandidateMetrics`
and :class:`~mlops.artifacts.Blessing`. A registry :class:`~mlops.artifacts.VersionManifest`
whose ``candidate_uri`` is the run's prefix says which version the run was published as.
Read-only, through :mod:`mlops.storage` and the typed artifacts only.
"""

from __future__ import annotations

from mlops import artifacts, storage
from mlops.artifacts import Blessing, CandidateMetrics, TrainingRecord, VersionManifest
from mlops.errors import ConfigError, InputReadError
from mlops.tracking import paths, records
from mlops.tracking.reading import read_optional
from mlops.tracking.records import Comparison, RunInfo

MAX_COMPARE = 8


def _run_files(client, bucket: str, dataset: str | None) -> dict[tuple[str, str], list[str]]:
    """``{(dataset, run_key): [file names]}`` under ``candidates/`` (one listing)."""
    out: dict[tuple[str, str], list[str]] = {}
    for uri in storage.list_uris(client, paths.candidates_root(bucket, dataset)):
        entry = paths.candidate_entry(bucket, uri)
        if entry:
            out.setdefault(entry[:2], []).append(entry[2])
    return out


def datasets(client, bucket: str) -> list[str]:
    """Every dataset with at least one training run."""
    return sorted({ds for ds, _ in _run_files(client, bucket, None)})


def _prefix_key(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def published_versions(client, bucket: str, dataset: str | None = None) -> dict[str, str]:
    """``{candidate prefix: version}`` from the registry manifests (of one model, or all)."""
    root = artifacts.versions_prefix(bucket, dataset) if dataset else paths.models_root(bucket)
    out: dict[str, str] = {}
    for uri in storage.list_uris(client, root):
        entry = paths.registry_entry(bucket, uri)
        if entry and entry[1] == "version":
            manifest = read_optional(client, uri, VersionManifest, [])
            if manifest is not None:
                out[_prefix_key(manifest.candidate_uri)] = manifest.version
    return out


def _read_run(
    client, bucket: str, dataset: str, run_key: str, files: list[str], published: dict[str, str]
) -> RunInfo:
    prefix = artifacts.candidate_prefix(bucket, dataset, run_key)
    has, problems = set(files), []

    def read(name: str, uri: str, cls):
        return read_optional(client, uri, cls, problems) if name in has else None

    return RunInfo(
        dataset=dataset,
        run_key=run_key,
        prefix=prefix,
        files=sorted(files),
        training=read(artifacts.TRAINING_FILE, artifacts.training_uri(prefix), TrainingRecord),
        candidate_metrics=read(artifacts.METRICS_FILE, artifacts.metrics_uri(prefix), CandidateMetrics),
        blessing=read(artifacts.BLESSING_FILE, artifacts.blessing_uri(prefix), Blessing),
        published_as=published.get(_prefix_key(prefix)),
        problems=problems,
    )


def list_runs(client, bucket: str, dataset: str | None = None, *, limit: int | None = None) -> list[RunInfo]:
    """Every training run (of ``dataset``, or all datasets), newest first."""
    if dataset is not None and not paths.NAME_RE.match(dataset):
        raise ConfigError(f"The 'dataset' parameter must be a dataset name. Got {dataset!r} instead.")
    found = _run_files(client, bucket, dataset)
    published = published_versions(client, bucket, dataset)
    runs = [_read_run(client, bucket, ds, key, files, published) for (ds, key), files in found.items()]
    runs.sort(key=lambda r: (r.written_at or "", r.run_key), reverse=True)
    return runs[:limit] if limit else runs


def parse_ref(ref: str) -> tuple[str, str]:
    """``"credit/<run_key>"`` -> ``("credit", "<run_key>")``; raises :class:`ConfigError` otherwise."""
    dataset, _, run_key = str(ref).strip().strip("/").partition("/")
    if not paths.NAME_RE.match(dataset) or not paths.RUN_KEY_RE.match(run_key) or run_key in (".", ".."):
        raise ConfigError(
            f"A run is named <dataset>/<run_key>, e.g. credit/manual__2026-02-17__1a2b3c4d. Got {ref!r} instead."
        )
    return dataset, run_key


def get_run(client, bucket: str, ref: str) -> RunInfo:
    """One run by ``<dataset>/<run_key>``; raises :class:`InputReadError` if it has no files."""
    dataset, run_key = parse_ref(ref)
    prefix = artifacts.candidate_prefix(bucket, dataset, run_key)
    files = [u[len(prefix) :] for u in storage.list_uris(client, prefix) if "/" not in u[len(prefix) :]]
    if not files:
        raise InputReadError(
            f"No training run {ref!r}: nothing under {prefix}. List the runs with `mlops runs list {dataset}`."
        )
    return _read_run(client, bucket, dataset, run_key, files, published_versions(client, bucket, dataset))


def get_runs(client, bucket: str, refs: list[str]) -> list[RunInfo]:
    """Several runs for comparison (2 to :data:`MAX_COMPARE`, no duplicates)."""
    unique = list(dict.fromkeys(str(r).strip() for r in refs if str(r).strip()))
    if not 2 <= len(unique) <= MAX_COMPARE:
        raise ConfigError(f"Compare needs 2 to {MAX_COMPARE} different runs. Got {len(unique)}: {unique}.")
    return [get_run(client, bucket, ref) for ref in unique]


def compare_runs(runs: list[RunInfo]) -> Comparison:
    """Params, metrics, data window and libraries of the runs, side by side."""
    return records.side_by_side([r.comparable() for r in runs], [r.ref for r in runs])


def metric_table(runs: list[RunInfo]) -> dict[str, list[float | None]]:
    """``{metric: [value per run]}`` for the metrics every run has (the compare plot's data)."""
    names = sorted(set.intersection(*(set(r.metrics) for r in runs))) if runs else []
    return {name: [r.metrics.get(name) for r in runs] for name in names}
