"""Pointer moves: promote and roll back an alias with a compare-and-swap, audited.

Promotion reads the pointer (keeping its ETag), checks the candidate (manifest, not retired,
checksums, it loads, a smoke prediction works) and writes the new
:class:`~mlops.artifacts.ProductionPointer` with ``If-Match: <etag>`` (``If-None-Match: *``
for the first promotion). HTTP 412 means someone else moved the alias: the promotion aborts
with :class:`ConcurrentUpdateError` and the pointer stays as they left it, unless the pointer
now holding the alias is exactly ours (botocore retried a PUT whose response was lost). HTTP
409 (a concurrent conditional write in flight) is retried with bounded exponential backoff.
Readers only ever see the old or the new pointer: never zero or two production models.
Every move writes one create-only :class:`~mlops.artifacts.AuditEvent`
(``audit/<alias>-<sequence>.json``) and carries a ``request_id`` (generated when the
caller gives none), which is how a lost response is recognised as our own write.

No audit gaps: every pointer move first writes the audit event of the pointer it found if
that is missing (a crash between a pointer write and its audit write), and a commit whose
audit slot already holds another change's event raises instead of reporting a win that the
audit trail contradicts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from mlops import artifacts, models, storage
from mlops.artifacts import AuditEvent, ProductionPointer
from mlops.errors import ConcurrentUpdateError, MLOpsError, RegistryError
from mlops.registry.base import Pointer, strip_etag
from mlops.registry.publish import NotBlessedError

#: ``expected_etag`` value that skips the "moved since evaluation" check (the write is still a CAS).
ANY_ETAG = "*"
MIN_REASON_LENGTH = 10
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF_SECONDS = 0.2

log = logging.getLogger(__name__)


def new_request_id() -> str:
    """A fresh request id for a pointer change whose caller gave none (CLI, scripts)."""
    return f"auto-{uuid.uuid4().hex}"


def _same_change(event: AuditEvent, pointer: ProductionPointer) -> bool:
    """Whether ``event`` is the audit event of exactly this pointer write."""
    return (event.alias, event.sequence, event.version, event.request_id, event.created_at) == (
        pointer.alias,
        pointer.sequence,
        pointer.version,
        pointer.request_id,
        pointer.updated_at,
    )


class PointerConflictError(MLOpsError):
    """The pointer write kept getting HTTP 409 after bounded retries. Transient: a retry may succeed."""


@dataclass(frozen=True)
class PendingChange:
    """A checked, not yet written alias change: the new pointer and the ETag it must replace.

    ``applied`` is set when a previous try with the same request id already made this change.
    """

    new: ProductionPointer
    base_etag: str | None
    from_version: str | None
    applied: Pointer | None = None


def _quoted(etag: str) -> str:
    return f'"{strip_etag(etag)}"'


class PointerMixin:
    """``prepare_change`` + ``commit`` (the CAS), and ``promote``, ``promote_blessed``, ``rollback``."""

    def _audit_alias_change(self, pointer: Pointer, *, ours: bool) -> bool:
        """Make sure the audit event of ``pointer``'s write exists; ``True`` if written now.

        ``ours``: the write is this call's own (a commit). If the slot holds another change's
        event, that raises :class:`ConcurrentUpdateError`; otherwise (healing a pointer we
        found) it is logged and left for a human.
        """
        p = pointer.pointer
        event = AuditEvent.for_pointer(p, pointer_etag=pointer.etag, pointer_version_id=pointer.s3_version_id)
        existing = None if ours else self.audit_event(event.event_id)
        if existing is None:
            if self._audit(event):
                if not ours:
                    log.warning("wrote the missing audit event %s", self.audit_uri(event.event_id))
                return True
            existing = self.audit_event(event.event_id)
        if existing is None or _same_change(existing, p):
            return False
        message = (
            f"Audit slot {self.audit_uri(event.event_id)} for sequence {p.sequence} of {p.alias!r} holds "
            f"{existing.action} to {existing.version} by {existing.actor} (request {existing.request_id}), "
            f"not the {p.action} to {p.version} by {p.actor} (request {p.request_id}): two writers both "
            f"passed the compare-and-swap."
        )
        if not ours:
            log.warning("%s Check `mlops registry history %s`.", message, self.dataset)
            return False
        current = self.pointer(p.alias)
        raise ConcurrentUpdateError(
            f"{message} Not reporting success; {p.alias!r} now points to "
            f"{current.version if current else 'nothing'}. Check `mlops registry history {self.dataset}` "
            "and promote again if the change is still wanted."
        )

    def _refused(self, new: ProductionPointer, expected_etag: str | None) -> ConcurrentUpdateError:
        current = self.pointer(new.alias)
        now = f"{current.version} (sequence {current.sequence}, by {current.actor})" if current else "none"
        condition = "If-None-Match: *" if expected_etag is None else f"If-Match {expected_etag}"
        return ConcurrentUpdateError(
            f"Someone else moved {new.alias!r} of {self.dataset} between our read and our write "
            f"(HTTP 412 on {condition}); it now points to {now}. Our {new.action} to {new.version} was "
            "NOT applied. Re-read the pointer and retry if the change is still wanted."
        )

    def _cas_write(self, new: ProductionPointer, expected_etag: str | None) -> storage.PutResult:
        uri = self.alias_uri(new.alias)
        body = new.to_json_bytes()
        for attempt in range(CONFLICT_RETRIES):
            try:
                return storage.put_bytes(
                    self.client,
                    uri,
                    body,
                    content_type="application/json",
                    if_none_match=expected_etag is None,
                    if_match=_quoted(expected_etag) if expected_etag is not None else None,
                )
            except storage.PreconditionFailed as err:
                current = self.pointer(new.alias)
                if current is not None and current.pointer == new:
                    # A PUT that landed but whose response was lost, retried by botocore: it is ours.
                    return storage.PutResult(uri, current.etag or "", current.s3_version_id)
                raise self._refused(new, expected_etag) from err
            except Exception as err:
                if storage.is_not_found(err):
                    raise ConcurrentUpdateError(
                        f"{uri} was deleted between our read and our write; our {new.action} to "
                        f"{new.version} was NOT applied."
                    ) from err
                if not storage.is_conflict(err):
                    raise
                if attempt == CONFLICT_RETRIES - 1:
                    raise PointerConflictError(
                        f"Writing {uri} got HTTP 409 (conflicting concurrent write) {CONFLICT_RETRIES} times; "
                        "giving up for now (a task retry may succeed)."
                    ) from err
                self.sleep(CONFLICT_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_not_moved(
        self, alias: str, current: Pointer | None, expected_etag: str | None, v: str
    ) -> None:
        if expected_etag == ANY_ETAG:
            return
        want = strip_etag(expected_etag)
        have = current.etag if current else None
        if want != have:
            now = (
                f"{current.version} since {current.updated_at} by {current.actor} (ETag {have})"
                if current
                else "nothing (no pointer)"
            )
            raise ConcurrentUpdateError(
                f"{alias!r} of {self.dataset} moved since the evaluation: it was compared against ETag "
                f"{want or 'none (no pointer)'}, now it is {now}. Not moving it to {v}; "
                "re-run the evaluation against the current production model."
            )

    def prepare_change(
        self,
        version: str,
        *,
        expected_etag: str | None,
        reason: str,
        actor: str,
        evaluation_id: str | None = None,
        alias: str = artifacts.PRODUCTION,
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
        forced: bool = False,
        action: str = "promote",
    ) -> PendingChange:
        """Phase 1 of a compare-and-swap: read the pointer (keep its ETag) and check the target.

        Nothing is written. :meth:`commit` writes the pointer only if it still has that ETag.
        Raises the same errors as :meth:`promote`.
        """
        v = models.normalize_version(version)
        current = self.pointer(alias)
        if request_id and current and current.request_id == request_id and current.version == v:
            return PendingChange(current.pointer, current.etag, current.previous_version, applied=current)
        healed = current is not None and self._audit_alias_change(current, ours=False)
        self._check_not_moved(alias, current, expected_etag, v)
        if current and current.version == v:
            note = (
                f"; its missing audit event {self.audit_uri(f'{alias}-{current.sequence:08d}')} was written"
                if healed
                else ""
            )
            raise RegistryError(
                f"{alias!r} of {self.dataset} already points to {v} (sequence {current.sequence}){note}."
            )
        _, manifest_sha = self.check_candidate(v)
        new = ProductionPointer(
            dataset=self.dataset,
            alias=alias,
            version=v,
            manifest_sha256=manifest_sha,
            previous_version=current.version if current else None,
            sequence=(current.sequence + 1) if current else 1,
            action=action,
            actor=actor,
            reason=reason,
            updated_at=self.now_iso(),
            evaluation_id=evaluation_id,
            request_id=request_id or new_request_id(),
            forced=forced,
            run=dict(run or {}),
        )
        return PendingChange(new, current.etag if current else None, current.version if current else None)

    def commit(self, change: PendingChange) -> Pointer:
        """Phase 2: write the pointer with If-Match (If-None-Match: * if there was none), then audit it.

        Raises :class:`ConcurrentUpdateError` on HTTP 412 (the pointer is left as the other writer
        set it), and when the audit slot of this change's sequence holds another change's event.
        """
        if change.applied is not None:
            self._audit_alias_change(change.applied, ours=True)  # a retry: make sure the audit event exists
            return change.applied
        put = self._cas_write(change.new, change.base_etag)
        pointer = Pointer(change.new, strip_etag(put.etag), put.version_id)
        self._audit_alias_change(pointer, ours=True)
        return pointer

    def promote(
        self,
        version: str,
        *,
        expected_etag: str | None,
        reason: str,
        actor: str,
        evaluation_id: str | None = None,
        alias: str = artifacts.PRODUCTION,
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
        forced: bool = False,
        action: str = "promote",
    ) -> Pointer:
        """Point ``alias`` at ``version`` with a compare-and-swap (:meth:`prepare_change` + :meth:`commit`).

        Parameters
        ----------
        expected_etag : str or None
            The pointer ETag the decision was based on (the gate's ``baseline_pointer_etag``);
            ``None`` means "there was no pointer". If the pointer has moved since, nothing is
            written. :data:`ANY_ETAG` skips this check (the write is still a CAS).
        reason, actor : str
            Why and who (recorded in the pointer and the audit event).
        request_id : str, optional
            Identifies this change (e.g. ``dag_id/run_id/task_id``): a retry whose change
            already landed returns the pointer instead of failing. Generated when not given
            (it still identifies our own write after a lost response).
        forced : bool
            Recorded in the pointer and the audit event (an unblessed version promoted by force).

        Raises
        ------
        ConcurrentUpdateError
            The pointer moved since ``expected_etag`` or between our read and write (412).
        RegistryError
            The version is missing, retired, already the target, or fails its smoke prediction.
        IntegrityError
            An artifact's checksum does not match the manifest.
        """
        change = self.prepare_change(
            version,
            expected_etag=expected_etag,
            reason=reason,
            actor=actor,
            evaluation_id=evaluation_id,
            alias=alias,
            request_id=request_id,
            run=run,
            forced=forced,
            action=action,
        )
        return self.commit(change)

    def promote_blessed(
        self,
        version: str,
        *,
        reason: str,
        actor: str,
        force: bool = False,
        alias: str = artifacts.PRODUCTION,
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
    ) -> Pointer:
        """Promote using the blessing recorded in the manifest.

        The blessing's ``baseline_pointer_etag`` is the expected ETag, so production must not
        have moved since the evaluation (also with ``force``: a blessed candidate is always held
        to its evaluation). ``force`` promotes an unblessed version against the current pointer;
        it is recorded as ``forced`` in the pointer and the audit trail.
        """
        v = models.normalize_version(version)
        manifest = self.manifest(v)
        blessing = manifest.blessing
        if not manifest.blessed and not force:
            why = "has no blessing" if blessing is None else f"is not blessed (failed: {blessing.failed})"
            raise NotBlessedError(
                f"{self.dataset} {v} {why}; not promoting (set force to override).", blessing
            )
        # Forced: there is no evaluation to be stale against.
        expected = blessing.baseline_pointer_etag if manifest.blessed else ANY_ETAG
        evaluation_id = (blessing.evaluation_id or blessing.candidate_uri) if blessing else None
        return self.promote(
            v,
            expected_etag=expected,
            reason=reason or ("forced promotion" if not manifest.blessed else "blessed by the gate"),
            actor=actor,
            evaluation_id=evaluation_id or manifest.run_id,
            alias=alias,
            request_id=request_id,
            run=run,
            forced=not manifest.blessed,
        )

    def rollback(
        self,
        *,
        target: str | None = None,
        reason: str,
        actor: str,
        alias: str = artifacts.PRODUCTION,
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
    ) -> Pointer:
        """Move ``alias`` back to ``target`` (default: the pointer's ``previous_version``).

        The target is checked like a promotion; artifacts are never copied or changed.
        """
        if len((reason or "").strip()) < MIN_REASON_LENGTH:
            raise RegistryError(
                f"The 'reason' parameter of rollback must be at least {MIN_REASON_LENGTH} characters. "
                f"Got {reason!r} instead."
            )
        current = self.pointer(alias)
        if current is None:
            raise RegistryError(
                f"{self.dataset} has no {alias!r} pointer ({self.alias_uri(alias)}); nothing to roll back."
            )
        if request_id and current.request_id == request_id:
            self._audit_alias_change(current, ours=True)
            return current
        if target:
            to = models.normalize_version(target)
        elif current.previous_version:
            to = current.previous_version
        else:
            raise RegistryError(
                f"{alias!r} of {self.dataset} ({current.version}) has no previous_version; "
                "pass target_version explicitly."
            )
        return self.promote(
            to,
            expected_etag=current.etag,
            reason=reason.strip(),
            actor=actor,
            alias=alias,
            request_id=request_id,
            run=run,
            action="rollback",
        )
