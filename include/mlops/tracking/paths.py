"""Where the tracking views list, and how they read a listed key back.

Every file name and URI builder comes from :mod:`mlops.artifacts` (``manifest_uri``,
``alias_uri``, ``candidate_prefix``, ``history_uri`` ...); the views call those directly.
This module holds only what the artifact package has no use for: the roots the views
list (all models, all candidates) and the patterns that turn a listed key back into a
dataset, a version, a run key or a day.
"""

from __future__ import annotations

import re

from mlops import artifacts, storage

#: A dataset (= registered model) name, as the configs and the registry use it.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: A stored version id (``artifacts.format_version`` output).
VERSION_RE = re.compile(r"^v\d{4,}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: One key segment of a candidate run (``artifacts.safe_key`` output).
RUN_KEY_RE = re.compile(r"^[A-Za-z0-9_.=-]+$")


def models_root(bucket: str) -> str:
    """``s3://<bucket>/models/``: the parent of every ``artifacts.models_prefix``."""
    return f"s3://{bucket}/models/"


def candidates_root(bucket: str, dataset: str | None = None) -> str:
    """``s3://<bucket>/candidates/`` (or one dataset's part of it): where training runs write."""
    root = f"s3://{bucket}/candidates/"
    if dataset is None:
        return root
    return artifacts.candidate_prefix(bucket, dataset, "_").removesuffix("_/")


def registry_entry(bucket: str, uri: str) -> tuple[str, str, str] | None:
    """``(dataset, "version" | "alias", id)`` of a listed manifest or alias key; ``None`` for any other key.

    ``models/credit/versions/v0007/manifest.json`` -> ``("credit", "version", "v0007")``;
    ``models/credit/aliases/production.json`` -> ``("credit", "alias", "production")``.
    """
    root = models_root(bucket)
    if not uri.startswith(root):
        return None
    dataset = uri[len(root) :].split("/", 1)[0]
    if not NAME_RE.match(dataset):
        return None
    rest = uri[len(artifacts.models_prefix(bucket, dataset)) :].split("/")
    if (
        len(rest) == 3
        and rest[0] == "versions"
        and rest[2] == artifacts.MANIFEST_FILE
        and VERSION_RE.match(rest[1])
    ):
        return dataset, "version", rest[1]
    if len(rest) == 2 and rest[0] == "aliases" and rest[1].endswith(".json"):
        return dataset, "alias", rest[1].removesuffix(".json")
    return None


def candidate_entry(bucket: str, uri: str) -> tuple[str, str, str] | None:
    """``(dataset, run_key, file name)`` of a file directly in a candidate prefix; ``None`` otherwise."""
    root = candidates_root(bucket)
    parts = uri[len(root) :].split("/") if uri.startswith(root) else []
    if len(parts) == 3 and NAME_RE.match(parts[0]) and RUN_KEY_RE.match(parts[1]) and parts[2]:
        return parts[0], parts[1], parts[2]
    return None


def day_of(prefix: str, uri: str, suffix: str = ".json") -> str | None:
    """The ``YYYY-MM-DD`` of ``<prefix><day><suffix>`` (e.g. a history record); ``None`` otherwise."""
    if not uri.startswith(prefix) or not uri.endswith(suffix):
        return None
    day = uri[len(prefix) : len(uri) - len(suffix)]
    return day if DAY_RE.match(day) else None


def version_of(prefix: str, uri: str) -> str | None:
    """The version id of ``<prefix>vNNNN.json`` (a tombstone, a check record); ``None`` otherwise."""
    if not uri.startswith(prefix) or not uri.endswith(".json"):
        return None
    version = uri[len(prefix) :].removesuffix(".json")
    return version if VERSION_RE.match(version) else None


def run_ref(candidate_uri: str | None) -> str | None:
    """``s3://b/candidates/credit/<run_key>/`` -> ``"credit/<run_key>"`` (how the views name a run)."""
    if not candidate_uri or not storage.is_s3(candidate_uri):
        return None
    bucket, _ = storage.parse_uri(candidate_uri)
    entry = candidate_entry(bucket, candidate_uri.rstrip("/") + "/" + artifacts.TRAINING_FILE)
    return f"{entry[0]}/{entry[1]}" if entry else None
