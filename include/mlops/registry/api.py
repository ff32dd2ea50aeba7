"""The model registry of one dataset, and a JSON summary of it for the demo."""

from __future__ import annotations

from typing import Any

from mlops.registry.base import RegistryBase
from mlops.registry.history import HistoryMixin
from mlops.registry.pointer import PointerMixin
from mlops.registry.publish import PublishMixin
from mlops.registry.retention import RetentionMixin
from mlops.registry.verify import VerifyMixin


class ModelRegistry(PublishMixin, PointerMixin, RetentionMixin, VerifyMixin, HistoryMixin, RegistryBase):
    """One model's registry under ``s3://<bucket>/models/<dataset>/`` (see :mod:`mlops.registry`).

    Reads (versions, manifests, pointers, models) go through :mod:`mlops.models`; this class
    adds the write side: :meth:`publish`, :meth:`promote` / :meth:`promote_blessed` /
    :meth:`rollback`, :meth:`retire`, plus :meth:`check_candidate`, :meth:`verify` and
    :meth:`history`. Constructor parameters: see :class:`~mlops.registry.base.RegistryBase`.
    """


def registry_summary(client, bucket: str, dataset: str) -> dict[str, Any]:
    """Versions, the production pointer and the history of one model (for the demo summary)."""
    reg = ModelRegistry(client, bucket, dataset)
    versions = reg.versions()
    details = []
    for v in versions:
        manifest = reg.manifest(v)
        details.append(
            {
                "version": v,
                "created_at": manifest.created_at,
                "run_id": manifest.run_id,
                "retired": reg.is_retired(v),
                "blessed": manifest.blessed,
                "forced": manifest.forced,
                "model_sha256": manifest.model_sha256,
            }
        )
    pointer = reg.pointer()
    return {
        "dataset": dataset,
        "models_uri": reg.models_prefix,
        "versions": versions,
        "version_details": details,
        "production": pointer.to_dict() if pointer else None,
        "history": reg.history(),
    }
