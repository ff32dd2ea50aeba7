"""``mlops registry versions|show|history|verify NAME``: read the S3 model registry."""

from __future__ import annotations

import argparse
import json

from mlops import storage
from mlops.cli import EXIT_FAILED, EXIT_OK, add_json_flag, emit


def register(sub) -> None:
    p = sub.add_parser(
        "registry", help="inspect the S3 model registry (versions, pointer, history, checksums)"
    )
    add_json_flag(p)
    rsub = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func, extra=None):
        q = rsub.add_parser(name, help=help_text)
        q.add_argument("name", help="model name (== dataset name)")
        if extra:
            extra(q)
        q.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
        # SUPPRESS: `mlops registry --json history x` and `mlops registry history x --json` both work.
        q.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
        )
        q.set_defaults(func=func)

    action("versions", "list versions with their status", run_versions)
    action(
        "show",
        "show a version's manifest (default: production)",
        run_show,
        lambda q: q.add_argument("ref", nargs="?", default="production", help="v0007 or an alias"),
    )
    action("history", "audit trail merged with the pointer's S3 version history", run_history)
    action(
        "verify",
        "re-hash artifacts against the manifest",
        run_verify,
        lambda q: q.add_argument("version", nargs="?", default=None, help="one version (default: all)"),
    )


def _registry(args):
    from mlops.registry import ModelRegistry

    return ModelRegistry(storage.client_from_env(), args.bucket, args.name)


def run_versions(args) -> int:
    reg = _registry(args)
    pointer = reg.pointer()
    rows = []
    for v in reg.versions():
        m = reg.manifest(v)
        tags = []
        if pointer and v == pointer.version:
            tags.append("production")
        if pointer and v == pointer.previous_version:
            tags.append("previous")
        if reg.is_retired(v):
            tags.append("retired")
        rows.append(
            {
                "version": v,
                "created_at": m.get("created_at"),
                "run_id": (m.get("run") or {}).get("run_id"),
                "blessed": (m.get("blessing") or {}).get("blessed"),
                "forced": (m.get("publish") or {}).get("forced"),
                "estimator": (m.get("model") or {}).get("estimator"),
                "tags": tags,
            }
        )
    lines = [
        f"{r['version']}  {r['created_at']}  {r['estimator'] or '-':<24} run={r['run_id']}  "
        f"{'blessed' if r['blessed'] else 'NOT blessed'}{' (forced)' if r['forced'] else ''}"
        f"{'  [' + ', '.join(r['tags']) + ']' if r['tags'] else ''}"
        for r in rows
    ]
    emit(args, {"name": args.name, "versions": rows}, "\n".join(lines) or f"no versions of {args.name}")
    return EXIT_OK


def run_show(args) -> int:
    reg = _registry(args)
    version, manifest = reg.resolve(args.ref)
    pointer = reg.pointer()
    payload = {
        "name": args.name,
        "ref": args.ref,
        "version": version,
        "manifest": manifest,
        "retired": reg.is_retired(version),
        "production": pointer.to_dict() if pointer else None,
    }
    text = [f"# {args.name} {version} ({args.ref})  {reg.manifest_uri(version)}"]
    if pointer and pointer.version == version:
        text.append(
            f"production since {pointer.time} (sequence {pointer.sequence}, by {pointer.actor}: "
            f"{pointer.reason})"
        )
    text.append(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    emit(args, payload, "\n".join(text))
    return EXIT_OK


def run_history(args) -> int:
    rows = _registry(args).history()
    lines = []
    for r in rows:
        move = (
            f"{r.get('from_version') or '-'} -> {r.get('to_version')}"
            if r.get("alias")
            else f"{r.get('version')}"
        )
        flag = " (forced)" if r.get("forced") else ""
        missing = "  [no audit event]" if r.get("audit_missing") else ""
        lines.append(
            f"{r.get('time')}  {r.get('action', ''):<8}{flag} {r.get('alias') or '':<10} {move:<16} "
            f"by {r.get('actor')}: {r.get('reason') or ''}{missing}"
        )
    emit(args, {"name": args.name, "history": rows}, "\n".join(lines) or f"no history for {args.name}")
    return EXIT_OK


def run_verify(args) -> int:
    results = _registry(args).verify(args.version)
    lines = []
    for r in results:
        lines.append(f"{r['version']}: {r['status']}")
        for a in r["artifacts"]:
            if a.get("problem"):
                lines.append(f"  {a['file']}: {a['problem']}")
    ok = all(r["ok"] for r in results)
    emit(args, {"name": args.name, "ok": ok, "versions": results}, "\n".join(lines) or "nothing to verify")
    return EXIT_OK if ok else EXIT_FAILED
