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
