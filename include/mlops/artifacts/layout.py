"""The bucket layout: every shared S3 location is built here and nowhere else.

Step-specific file names live beside their artifact classes in this package;
this module holds the data-side layout every step shares.
"""

from __future__ import annotations

from datetime import date

from mlops.storage import parse_uri


def batch_uri(bucket: str, dataset: str, day: date | str) -> str:
    """Daily feature batch: ``s3://<bucket>/data/<dataset>/features/dt=<day>/batch.parquet``."""
    return f"s3://{bucket}/data/{dataset}/features/dt={day}/batch.parquet"


def labels_uri(bucket: str, dataset: str, day: date | str) -> str:
    """Late labels for the batch of ``day`` (they land ``label_delay_days`` later)."""
    return f"s3://{bucket}/data/{dataset}/labels/dt={day}/labels.parquet"


def validation_uri(data_uri: str) -> str:
    """Validation result JSON beside a batch."""
    return data_uri.rsplit(".", 1)[0] + ".validation.json"


def quarantine_uri(data_uri: str) -> str:
    """Where a rejected batch is copied: ``quarantine/`` + the original key."""
    bucket, key = parse_uri(data_uri)
    return f"s3://{bucket}/quarantine/{key}"


def predictions_prefix(bucket: str, dataset: str, day: date | str) -> str:
    return f"s3://{bucket}/predictions/{dataset}/{day}/"


def monitoring_prefix(bucket: str, dataset: str, day: date | str) -> str:
    return f"s3://{bucket}/monitoring/{dataset}/{day}/"


def candidate_prefix(bucket: str, dataset: str, run_key: str) -> str:
    """Staging area for one training run's candidate artifacts."""
    return f"s3://{bucket}/candidates/{dataset}/{safe_key(run_key)}/"


def safe_key(text: str) -> str:
    """Make a run id safe for an S3 key segment."""
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in text)
