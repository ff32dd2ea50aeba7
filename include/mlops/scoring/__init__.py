"""Batch scoring: stream a day's batch through one pinned model version into an atomic partition.

How a run works
---------------
1. :func:`plan_scoring` (``plan``) resolves the model reference (``"production"`` or
   ``"v0007"``) **once** through :mod:`mlops.models`, loads the model (only a version whose
   model passed the registry's smoke check in a child process; ``model.skops`` is checked
   against the version manifest's sha256 and loaded with the pinned skops trusted types), pins the input object (its S3 ``VersionId``, or its ETag on an unversioned bucket),
   reads the Parquet footer (row count, schema check against the version's
   :class:`~mlops.artifacts.FeatureSignature`) and cuts the rows into shards. A checksum
   mismatch raises :class:`~mlops.errors.IntegrityError` here, before anything is written.
2. :func:`score_shard` (``shard``; one call per shard, the DAG maps them in parallel)
   streams its row range over ranged S3 GETs of the pinned input (``io``), coerces and scores
   each chunk (``chunk``) and streams the part and the rejects into S3 multipart uploads.
3. :func:`publish_partition` (``publish``) checks that every shard is there and agrees on the
   model version and input version, fails if the reject share exceeds
   ``scoring.max_reject_fraction``, writes ``_SUCCESS`` (:class:`~mlops.artifacts.SuccessMarker`)
   **last**, then removes stale objects of this partition.

:func:`score_batch` (``batch``) runs the three steps in one process. Shards are cut on the
global chunk grid (shard boundaries are multiples of ``chunk_size``), so every chunk holds the
same rows sharded or not and the sharded output is identical to the unsharded output, row for
row and bit for bit.

The partition
-------------
The layout is in :mod:`mlops.artifacts.scoring`. Readers trust only ``_SUCCESS``: it lists
every part (:class:`~mlops.artifacts.PartEntry`: rows, size, sha256, S3 VersionId, row range)
plus the model version, the input URI and VersionId, and the row counts;
:attr:`SuccessMarker.part_uris <mlops.artifacts.SuccessMarker.part_uris>` is the one way to list
the parts, and :func:`read_predictions` (``read``) reads them with their checksums verified.

* ``attempt=<a>`` is a hash of the run id, the model version and sha256, the input VersionId,
  the shard count and the chunk size. A retried task of the same run scores the same rows
  with the same model, so it rewrites the same keys with the same bytes; a new run, a moved
  pointer or a replaced input writes to new keys and never touches the objects the current
  ``_SUCCESS`` lists.
* Each part is one object, uploaded as a multipart upload that is completed only after the
  last chunk (or a single PUT when small): it is either absent or complete, never half-written.
* Publishing overwrites ``_SUCCESS`` in one PUT, and only then deletes every other object
  under *this* partition's prefix. One writer per partition at a time: the scoring DAG runs
  with ``max_active_runs=1``.

Output columns: the dataset's id column, ``prediction`` (the class label, or the value for
regression), ``probability`` (binary classification: the probability of the positive class,
picked by :func:`mlops.metrics.positive_index` from the config's ``positive_class``) or, for a
multiclass model, one ``proba_<class>`` column per class in ``classes_`` order
(:func:`mlops.artifacts.scoring.proba_column`), ``model_version`` and ``run_id``. Rejects: the id, ``row``, ``column``, ``value``, ``reason``,
``model_version``, ``run_id``.
"""

from mlops.scoring.batch import score_batch
from mlops.scoring.chunk import ChunkScorer, positive_column
from mlops.scoring.io import InputObject, head_input, iter_chunks, open_parquet
from mlops.scoring.plan import (
    ScoringPlan,
    Shard,
    attempt_id,
    check_input_schema,
    feature_columns,
    plan_scoring,
    plan_shards,
)
from mlops.scoring.publish import ScoringResult, TooManyRejects, publish_partition
from mlops.scoring.read import PartitionNotPublished, read_predictions, read_rejects, read_success
from mlops.scoring.shard import ChunkProgress, ShardResult, score_shard

__all__ = [
    "ChunkProgress",
    "ChunkScorer",
    "InputObject",
    "PartitionNotPublished",
    "ScoringPlan",
    "ScoringResult",
    "Shard",
    "ShardResult",
    "TooManyRejects",
    "attempt_id",
    "check_input_schema",
    "feature_columns",
    "head_input",
    "iter_chunks",
    "open_parquet",
    "plan_scoring",
    "plan_shards",
    "positive_column",
    "publish_partition",
    "read_predictions",
    "read_rejects",
    "read_success",
    "score_batch",
    "score_shard",
]
