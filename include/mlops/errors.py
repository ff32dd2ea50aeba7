"""Error types. Every error the library raises on purpose is an :class:`MLOpsError`."""


class MLOpsError(Exception):
    """Base class for errors raised by the mlops library."""


class ConfigError(MLOpsError, ValueError):
    """A dataset config or a parameter is invalid. Retrying will not help."""


class InputReadError(MLOpsError):
    """An input object could not be read as a table (missing, empty, corrupt, wrong format)."""


class ValidationFailed(MLOpsError):
    """A data batch failed its expectation suite."""


class IntegrityError(MLOpsError):
    """An artifact's checksum does not match its manifest. Never load it."""


class RegistryError(MLOpsError):
    """A registry operation was refused (missing or retired version, bad target)."""


class ConcurrentUpdateError(RegistryError):
    """Someone else moved an alias pointer between our read and our write (HTTP 412)."""


class ArtifactSchemaError(MLOpsError):
    """An artifact's JSON is not the shape or schema_version this code reads."""


def find_in_chain(err: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first error of ``types`` in ``err`` or its causes and contexts (an MLOpsError may wrap
    a botocore error), else ``None``."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, types):
            return current
        current = current.__cause__ or current.__context__
    return None
