"""Data validation with Great Expectations (GX Core 1.x): nothing trains on or scores an unchecked batch.

Modules, in the order a batch meets them:

- :mod:`~mlops.validation.suite`: one expectation suite per dataset in
  ``include/expectations/<dataset>.json``, rendered from the dataset config's ``validation:``
  section by :func:`build_suite` (``mlops suites``); hand-written expectations are kept.
- :mod:`~mlops.validation.batch`: :func:`open_batch` serves a Parquet batch (S3 or local) chunk by
  chunk from a local copy pinned to its object version; CSV and label-joined batches are read whole
  (:func:`read_batch`: typed by the config, late labels joined); every unreadable input names the fix.
- :mod:`~mlops.validation.chunks`: the batch as chunks of rows with the whole batch's dtypes.
- :mod:`~mlops.validation.engine`: out of core: GX computes each expectation's metrics chunk by
  chunk, the values are merged exactly (counts summed, samples in row order, uniqueness and
  quantiles over whole columns), and GX judges the merged metrics. Peak memory ~0.6-0.7 GiB from
  1M to 5M rows x 21 columns (GX on the whole frame: 0.9 and 3.1 GiB).
- :mod:`~mlops.validation.run`: :func:`validate_table` (and :func:`validate_frame`,
  :func:`validate_uri`) runs the suite and returns a :class:`ValidationReport` holding an
  :class:`~mlops.artifacts.ValidationResult` whose ``suite_digest`` is the suite's sha256.
- :mod:`~mlops.validation.outcome`: one actionable line per failure, e.g. ``column
  "credit_score": 39.8% null (796 of 2000 rows; allowed 2%) —
  expect_column_values_to_not_be_null``, and the verdict line.
- :mod:`~mlops.validation.record`: :func:`validate_and_record`, the step the DAGs run: the
  result and the GX Data Docs page beside the batch (reused, without reading the batch, while the
  batch's object version and the suite's sha256 are unchanged) and, on failure,
  :mod:`~mlops.validation.quarantine` copies the batch byte-for-byte to ``quarantine/`` with
  its result beside it (the original stays) and :class:`BatchRejected` is raised.
- :mod:`~mlops.validation.results`: reading recorded results back and the per-batch summary.
- :mod:`~mlops.validation.hints`: fix hints in the caller's words (``--labelled`` on the CLI,
  ``Param labelled=true`` in a DAG, ``labelled=True`` in Python; ``hint_style=``).
- :mod:`~mlops.validation.infer`: ``mlops init``: a dataset config (and so its suite) inferred
  from a clean sample, SchemaGen-style (imported on demand, not re-exported here).

Other steps never import this package: they read the ``ValidationResult`` beside a batch
with :func:`mlops.artifacts.read_artifact`.
"""

from mlops.artifacts import docs_uri
from mlops.validation.batch import is_labelled, labels_uri_for, open_batch, parse_batch_bytes, read_batch
from mlops.validation.hints import HINT_STYLES
from mlops.validation.record import validate_and_record
from mlops.validation.results import (
    BatchRejected,
    ValidationReport,
    is_accepted,
    read_validation,
    summarize_validations,
)
from mlops.validation.run import validate_frame, validate_table, validate_uri
from mlops.validation.suite import (
    SCOPES,
    build_suite,
    config_digest,
    load_suite,
    render_suite,
    suite_path,
    suite_sha256,
    write_suite,
)

__all__ = [
    "HINT_STYLES",
    "SCOPES",
    "BatchRejected",
    "ValidationReport",
    "build_suite",
    "config_digest",
    "docs_uri",
    "is_accepted",
    "is_labelled",
    "labels_uri_for",
    "load_suite",
    "open_batch",
    "parse_batch_bytes",
    "read_batch",
    "read_validation",
    "render_suite",
    "suite_path",
    "suite_sha256",
    "summarize_validations",
    "validate_and_record",
    "validate_frame",
    "validate_table",
    "validate_uri",
    "write_suite",
]
