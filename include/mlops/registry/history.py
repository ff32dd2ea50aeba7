"""History: the audit trail merged with every alias pointer's S3 version history.

Each alias change appears once (matched on alias + sequence); ``sources`` says where it was
found (``audit``, ``pointer``). A pointer version without an audit event is flagged
``audit_missing``, so a lost audit write still shows in the history.
"""

from __future__ import annotations

from typing import Any

from mlops import artifacts, storage
from mlops.artifacts import AuditEvent, ProductionPointer
from mlops.registry.base import Pointer, strip_etag

#: The columns of a history row (an :class:`AuditEvent`'s fields).
HISTORY_FIELDS = (
    "created_at",
    "action",
    "alias",
    "version",
    "from_version",
    "sequence",
    "actor",
    "reason",
    "evaluation_id",
    "forced",
    "request_id",
)


def history_row(event: AuditEvent) -> dict[str, Any]:
    return {k: getattr(event, k) for k in HISTORY_FIELDS}


class HistoryMixin:
    """``audit_events``, ``pointer_history`` and their merge, ``history``."""

    def audit_events(self) -> list[AuditEvent]:
        """Every audit event of this model, in key order."""
        prefix = artifacts.audit_prefix(self.bucket, self.dataset)
        return [
            artifacts.read_artifact(self.client, uri, AuditEvent)
            for uri in storage.list_uris(self.client, prefix)
        ]

    def pointer_history(self, alias: str = artifacts.PRODUCTION) -> list[Pointer]:
        """Every S3 version of the alias pointer, oldest first (from ``list_object_versions``)."""
        uri = self.alias_uri(alias)
        out: list[Pointer] = []
        for item in storage.list_versions(self.client, uri):
            if item.uri != uri or item.is_delete_marker:
                continue
            pointer = artifacts.read_artifact(self.client, uri, ProductionPointer, version_id=item.version_id)
            out.append(Pointer(pointer, strip_etag(item.etag), item.version_id))
        return sorted(out, key=lambda p: p.sequence)

    def history(self) -> list[dict[str, Any]]:
        """The audit trail merged with every alias pointer's S3 version history, oldest first."""
        rows: dict[tuple[str, Any], dict[str, Any]] = {}
        for event in self.audit_events():
            if event.alias is not None and event.sequence is not None:
                key: tuple[str, Any] = (event.alias, event.sequence)
            else:
                key = (event.action, event.version)
            rows[key] = {**history_row(event), "sources": ["audit"]}
        for alias in self.aliases():
            for p in self.pointer_history(alias):
                row = rows.get((alias, p.sequence))
                if row is None:
                    row = {
                        **history_row(AuditEvent.for_pointer(p.pointer)),
                        "sources": [],
                        "audit_missing": True,
                    }
                    rows[(alias, p.sequence)] = row
                row["sources"] = sorted(set(row["sources"]) | {"pointer"})
                row["pointer_version_id"] = p.s3_version_id
        return sorted(rows.values(), key=lambda r: (str(r["created_at"]), r.get("sequence") or 0))
