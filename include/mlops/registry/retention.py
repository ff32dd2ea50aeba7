"""Retention: tombstone old versions, and delete the artifacts of versions retired long ago.

Never retired: any version an alias points to, or its ``previous_version``; the newest
``keep_last``; anything younger than ``grace_days``. A retired version gets a create-only
:class:`~mlops.artifacts.Tombstone` (``retired/vNNNN.json``); ``grace_days`` after that its
artifacts are deleted (every S3 object version). Manifests, tombstones, pointers and the
audit trail are never deleted. Each retire and purge writes an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlops import artifacts, storage
from mlops.artifacts import AuditEvent, Tombstone
from mlops.errors import RegistryError


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "keep_last": self.keep_last,
            "grace_days": self.grace_days,
            "retired": self.retired,
            "purged": self.purged,
            "kept": self.kept,
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

    def _purge(self, version: str) -> int:
        """Permanently delete every object version under ``versions/<v>/`` except the manifest."""
        deleted = 0
        for item in storage.list_versions(self.client, self.version_prefix(version)):
            if item.key.endswith("/" + artifacts.MANIFEST_FILE):
                continue
            storage.delete(self.client, item.uri, version_id=item.version_id)
            deleted += 1
        return deleted

    def _retired_decision(
        self, tomb: Tombstone, now: datetime, grace_days: int, actor: str, *, may_purge: bool
    ) -> dict[str, str]:
        """A retired version: purge its artifacts once the grace period is over."""
        v = tomb.version
        if not may_purge:
            return _decision(v, "retired", "already retired")
        if now - artifacts.parse_utc_iso(tomb.retired_at) <= timedelta(days=grace_days):
            return _decision(v, "retired", f"retired {tomb.retired_at}, within {grace_days}-day grace")
        deleted = self._purge(v)
        if not deleted:
            return _decision(v, "retired", "already purged")
        self._audit(
            AuditEvent(
                dataset=self.dataset,
                action="purge",
                version=v,
                actor=actor,
                reason=f"retired {tomb.retired_at}, over {grace_days} days ago",
                created_at=artifacts.to_utc_iso(now),
                details={"deleted_objects": deleted},
            )
        )
        return _decision(v, "purge", f"retired over {grace_days} days ago; deleted {deleted} objects")

    def _retire_one(self, v: str, now: datetime, actor: str, reason: str, details: dict[str, int]) -> bool:
        """Write the tombstone and its audit event; ``False`` if another run retired it first."""
        at = artifacts.to_utc_iso(now)
        tomb = Tombstone(dataset=self.dataset, version=v, retired_at=at, actor=actor, reason=reason)
        try:
            artifacts.write_artifact(self.client, self.tombstone_uri(v), tomb, if_none_match=True)
        except storage.PreconditionFailed:
            return False
        self._audit(
            AuditEvent(
                dataset=self.dataset,
                action="retire",
                version=v,
                actor=actor,
                reason=reason,
                created_at=at,
                details=dict(details),
            )
        )
        return True

    def retire(
        self,
        *,
        keep_last: int,
        grace_days: int,
        actor: str,
        reason: str = "retention policy",
        now: datetime | None = None,
        purge: bool = True,
    ) -> RetentionResult:
        """Tombstone versions beyond the newest ``keep_last``; delete artifacts retired over ``grace_days`` ago."""
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
        decisions: list[dict[str, str]] = []
        for v in versions:
            tomb = self.tombstone(v)
            if tomb is not None:
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
            elif self._retire_one(v, now, actor, reason, {"keep_last": keep_last, "grace_days": grace_days}):
                decisions.append(
                    _decision(v, "retire", f"beyond the newest {keep_last} and older than {grace_days} days")
                )
            else:
                decisions.append(_decision(v, "retired", "retired concurrently"))
        return RetentionResult(self.dataset, keep_last, grace_days, decisions)
