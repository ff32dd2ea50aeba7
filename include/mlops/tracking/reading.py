"""One read helper for the tracking views: an artifact, or ``None`` with the reason noted."""

from __future__ import annotations

from typing import Any, TypeVar

from mlops.artifacts import Artifact, read_artifact
from mlops.errors import ArtifactSchemaError, InputReadError

A = TypeVar("A", bound=Artifact)


def read_optional(
    client: Any, uri: str, cls: type[A], problems: list[str], *, version_id: str | None = None
) -> A | None:
    """``uri`` read as ``cls``; ``None`` if it does not exist.

    A file that is not a valid ``cls`` of the current schema_version also gives ``None``,
    and its :class:`~mlops.errors.ArtifactSchemaError` message is appended to ``problems``
    so the page can say which file is wrong. Any other error (access, outage) propagates.
    """
    try:
        return read_artifact(client, uri, cls, version_id)
    except InputReadError:
        return None
    except ArtifactSchemaError as err:
        problems.append(str(err))
        return None
