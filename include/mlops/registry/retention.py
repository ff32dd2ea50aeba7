"""Retention: tombstone old versions, and delete the artifacts of versions retired long ago.

Never retired: any version an alias points to, or its ``previous_version``; the newest
``keep_last``; anything younger than ``grace_days``. A retired version gets a create-only
:class:`~mlops.artifacts.Tombstone` (``retired/vNNNN.json``); ``grace_days`` after that its
artifacts are deleted (every S3 object version). Manifests, tombstones, pointers and the
audit trail are never deleted. Each retire and purge writes an audit event; a retire whose
audit write was lost (a crash after the tombstone) gets it on the next run, and a purge
writes its event before deleting.

Orphans: a publish killed before its manifest leaves a manifest-less ``versions/vNNNN/``
folder. Once its last write is older than ``orphan_grace_hours`` (at least one hour, so a
publish in flight is never touched) retention writes an ``orphan`` audit event and deletes
every object version in it. A folder with a manifest (any S3 version of it) is never
touched, and publish never reuses an orphan's number (see ``PublishMixin._slots``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlops import artifacts, models, storage
from mlops.artifacts import AuditEvent, Tombstone
from mlops.errors import RegistryError

ORPHAN_GRACE_HOURS = 24.0
MIN_ORPHAN_GRACE_HOURS = 1.0


@dataclass(frozen=True)
class RetentionResult:
    """One decision per version: ``keep``, ``retire``, ``purge`` or ``retired`` (already), with why."""

    dataset: str
    keep_last: int
    grace_days: int
    decisions: list[dict[str, str]]

    def _with(self, decision: str) -> list[str]:
        return [d["version"] for d in self.decisions if d["decision"] == decision]

    @property
    def retired(self) -> list[str]:
        return self._with("retire")

    @property
    def purged(self) -> list[str]:
        return self._with("purge")

    @property
    def kept(self) -> list[str]:
        return self._with("keep")

    @property
    def orphans(self) -> list[str]:
        """Manifest-less version folders removed in this run."""
        return self._with("orphan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "keep_last": self.keep_last,
            "grace_days": self.grace_days,
            "retired": self.retired,
            "purged": self.purged,
            "kept": self.kept,
            "orphans": self.orphans,
            "decisions": self.decisions,
        }


def _decision(version: str, decision: str, reason: str) -> dict[str, str]:
    return {"version": version, "decision": decision, "reason": reason}


class RetentionMixin:
    """``retire``: apply the retention policy of one model (see the module docstring)."""

    def _protected(self) -> dict[str, str]:
        """Versions an alias points to, and their previous versions -> why they are kept."""
        protected: dict[str, str] = {}
        for alias in self.aliases():
            p = self.pointer(alias)
            if p is None:
                continue
            protected.setdefault(p.version, f"alias {alias!r} points to it")
            if p.previous_version:
                protected.setdefault(p.previous_version, f"previous_version of {alias!r}")
        return protected

    def _delete_all(self, items: list[storage.ObjectVersion]) -> int:
        for item in items:
            storage.delete(self.client, item.uri, version_id=item.version_id)
        return len(items)

    def _retired_decision(
        self, tomb: Tombstone, now: datetime, grace_days: int, actor: str, *, may_purge: bool
    ) -> dict[str, str]:
        """A retired version: purge its artifacts once the grace period is over (audit event first)."""
        v = tomb.version
        if not may_purge:
            return _decision(v, "retired", "already retired")
        if now - artifacts.parse_utc_iso(tomb.retired_at) <= timedelta(days=grace_days):
            return _decision(v, "retired", f"retired {tomb.retired_at}, within {grace_days}-day grace")
        doomed = [
            item
            for item in storage.list_versions(self.client, self.version_prefix(v))
            if not item.key.endswith("/" + artifacts.MANIFEST_FILE)
        ]
        if not doomed:
            return _decision(v, "retired", "already purged")
        self._audit(
            AuditEvent(
                dataset=self.dataset,
                action="purge",
                version=v,
                actor=actor,
                reason=f"retired {tomb.retired_at}, over {grace_days} days ago",
                created_at=artifacts.to_utc_iso(now),
                details={"deleted_objects": len(doomed)},
            )
        )  # False on a retry after a crash mid-purge: the event is already there
        deleted = self._delete_all(doomed)
        return _decision(v, "purge", f"retired over {grace_days} days ago; deleted {deleted} objects")

    def _audit_retire(self, tomb: Tombstone, details: dict[str, int]) -> bool:
        """The retire audit event of ``tomb`` (create-only; ``False`` if it exists)."""
        return self._audit(
            AuditEvent(
                dataset=self.dataset,
                action="retire",
                version=tomb.version,
                actor=tomb.actor,
                reason=tomb.reason,
                created_at=tomb.retired_at,
                details=dict(details),
            )
        )

    def _retire_one(self, v: str, now: datetime, actor: str, reason: str, details: dict[str, int]) -> bool:
        """Write the tombstone and its audit event; ``False`` if another run retired it first."""
        at = artifacts.to_utc_iso(now)
        tomb = Tombstone(dataset=self.dataset, version=v, retired_at=at, actor=actor, reason=reason)
        try:
            artifacts.write_artifact(self.client, self.tombstone_uri(v), tomb, if_none_match=True)
        except storage.PreconditionFailed:
            return False
        self._audit_retire(tomb, details)
        return True

    def _orphan_folders(self) -> dict[str, list[storage.ObjectVersion]]:
        """Version folders with objects but no manifest (no S3 version of one at all) -> their object versions."""
        base = artifacts.versions_prefix(self.bucket, self.dataset)
        folders: dict[str, list[storage.ObjectVersion]] = {}
        for item in storage.list_versions(self.client, base):
            head, _, name = item.uri[len(base) :].partition("/")
            if name and models.is_version_ref(head):
                folders.setdefault(models.normalize_version(head), []).append(item)
        return {
            v: items
            for v, items in folders.items()
            if not any(i.uri.endswith("/" + artifacts.MANIFEST_FILE) for i in items)
        }

    def _clean_orphans(self, now: datetime, grace_hours: float, actor: str) -> list[dict[str, str]]:
        """Remove manifest-less folders last written over ``grace_hours`` ago (module docstring)."""
        decisions = []
        for v, items in sorted(self._orphan_folders().items()):
            last = max((i.last_modified for i in items if i.last_modified), default=None)
            written = artifacts.to_utc_iso(last) if last else "unknown"
            files = sorted({i.uri.rsplit("/", 1)[-1] for i in items})
            if last is None or now - last <= timedelta(hours=grace_hours):
                why = f"no manifest, last written {written}: within the {grace_hours:g}-hour grace (a publish in flight?)"
                decisions.append(_decision(v, "incomplete", why))
                continue
            if storage.exists(self.client, self.manifest_uri(v)):  # a publish completed meanwhile
                decisions.append(_decision(v, "keep", "its manifest appeared during retention"))
                continue
            self._audit(
                AuditEvent(
                    dataset=self.dataset,
                    action="orphan",
                    version=v,
                    actor=actor,
                    reason=f"abandoned publish: no manifest, last written {written}, over {grace_hours:g} hours ago",
                    created_at=artifacts.to_utc_iso(now),
                    details={"deleted_objects": len(items), "last_written_at": written, "files": files},
                )
            )  # before deleting, so a crash in between leaves no unexplained gap
            deleted = self._delete_all(items)
            why = (
                f"no manifest, last written {written}; deleted {deleted} object versions ({', '.join(files)})"
            )
            decisions.append(_decision(v, "orphan", why))
        return decisions

    def retire(
        self,
        *,
        keep_last: int,
        grace_days: int,
        actor: str,
        reason: str = "retention policy",
        now: datetime | None = None,
        purge: bool = True,
        orphan_grace_hours: float = ORPHAN_GRACE_HOURS,
    ) -> RetentionResult:
        """Tombstone versions beyond the newest ``keep_last``; delete artifacts retired over
        ``grace_days`` ago; remove manifest-less folders older than ``orphan_grace_hours``."""
        if float(orphan_grace_hours) < MIN_ORPHAN_GRACE_HOURS:
            raise RegistryError(
                f"The 'orphan_grace_hours' parameter of retire must be >= {MIN_ORPHAN_GRACE_HOURS:g} "
                f"(a publish may still be writing). Got {orphan_grace_hours!r} instead."
            )
        if int(keep_last) < 1:
            raise RegistryError(
                f"The 'keep_last' parameter of retire must be >= 1. Got {keep_last!r} instead."
            )
        if int(grace_days) < 0:
            raise RegistryError(
                f"The 'grace_days' parameter of retire must be >= 0. Got {grace_days!r} instead."
            )
        keep_last, grace_days = int(keep_last), int(grace_days)
        now = now or self.clock()
        protected = self._protected()
        versions = self.versions()
        newest = set(versions[-keep_last:])
        audited = set(storage.list_uris(self.client, artifacts.audit_prefix(self.bucket, self.dataset)))
        policy = {"keep_last": keep_last, "grace_days": grace_days}
        decisions: list[dict[str, str]] = []
        for v in versions:
            tomb = self.tombstone(v)
            if tomb is not None:
                if self.audit_uri(f"retire-{v}") not in audited:
                    self._audit_retire(tomb, policy)  # a crash after the tombstone left no event
                may_purge = purge and v not in protected
                decisions.append(self._retired_decision(tomb, now, grace_days, actor, may_purge=may_purge))
                continue
            created = self.manifest(v).created_at
            if v in protected:
                decisions.append(_decision(v, "keep", protected[v]))
            elif v in newest:
                decisions.append(_decision(v, "keep", f"among the newest {keep_last}"))
            elif now - artifacts.parse_utc_iso(created) < timedelta(days=grace_days):
                decisions.append(
                    _decision(v, "keep", f"younger than the {grace_days}-day grace (created {created})")
                )
            elif self._retire_one(v, now, actor, reason, policy):
                decisions.append(
                    _decision(v, "retire", f"beyond the newest {keep_last} and older than {grace_days} days")
                )
            else:
                decisions.append(_decision(v, "retired", "retired concurrently"))
        decisions += self._clean_orphans(now, float(orphan_grace_hours), actor)
        return RetentionResult(self.dataset, keep_last, grace_days, decisions)
