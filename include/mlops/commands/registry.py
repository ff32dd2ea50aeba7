"""``mlops registry versions|show|history|verify|check DATASET``: inspect the S3 model registry.

``verify`` audits published versions (artifact bytes, one S3 version per create-only key,
the manifest sha256 against the pointer and the audit trail) and exits 1 on any problem.
``check`` runs a version's smoke prediction in a child process and records the pass, which
scoring requires (for versions promoted before that record existed).
"""

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
        q.add_argument("dataset", help="the dataset, which names the registered model")
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
        "audit versions: artifact bytes, rewritten keys, manifest sha256 vs pointer and audit trail",
        run_verify,
        lambda q: q.add_argument("version", nargs="?", default=None, help="one version (default: all)"),
    )
    action(
        "check",
        "smoke-predict a version in a child process and record the pass (scoring requires it)",
        run_check,
        lambda q: q.add_argument("version", help="the version, e.g. v0007"),
    )


def _registry(args):
    from mlops.registry import ModelRegistry

    return ModelRegistry(storage.client_from_env(), args.bucket, args.dataset)


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
                "created_at": m.created_at,
                "run_id": m.run_id,
                "blessed": m.blessed,
                "forced": m.forced,
                "estimator": m.estimator,
                "tags": tags,
            }
        )
    lines = [
        f"{r['version']}  {r['created_at']}  {r['estimator'] or '-':<24} run={r['run_id']}  "
        f"{'blessed' if r['blessed'] else 'NOT blessed'}{' (forced)' if r['forced'] else ''}"
        f"{'  [' + ', '.join(r['tags']) + ']' if r['tags'] else ''}"
        for r in rows
    ]
    emit(
        args,
        {"dataset": args.dataset, "versions": rows},
        "\n".join(lines) or f"no versions of {args.dataset}",
    )
    return EXIT_OK


def run_show(args) -> int:
    reg = _registry(args)
    resolved = reg.resolve(args.ref)
    version, manifest = resolved.version, resolved.manifest.to_dict()
    pointer = reg.pointer()
    payload = {
        "dataset": args.dataset,
        "ref": args.ref,
        "version": version,
        "manifest": manifest,
        "retired": reg.is_retired(version),
        "production": pointer.to_dict() if pointer else None,
    }
    text = [f"# {args.dataset} {version} ({args.ref})  {reg.manifest_uri(version)}"]
    if pointer and pointer.version == version:
        text.append(
            f"production since {pointer.updated_at} (sequence {pointer.sequence}, by {pointer.actor}: "
            f"{pointer.reason})"
        )
    text.append(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    emit(args, payload, "\n".join(text))
    return EXIT_OK


def run_history(args) -> int:
    rows = _registry(args).history()
    lines = []
    for r in rows:
        move = f"{r['from_version'] or '-'} -> {r['version']}" if r["alias"] else r["version"]
        flag = " (forced)" if r["forced"] else ""
        missing = "  [no audit event]" if r.get("audit_missing") else ""
        lines.append(
            f"{r['created_at']}  {r['action']:<8}{flag} {r['alias'] or '':<10} {move:<16} "
            f"by {r['actor']}: {r['reason'] or ''}{missing}"
        )
    emit(
        args, {"dataset": args.dataset, "history": rows}, "\n".join(lines) or f"no history for {args.dataset}"
    )
    return EXIT_OK


def run_verify(args) -> int:
    results = _registry(args).verify(args.version)
    lines = []
    for r in results:
        lines.append(f"{r['version']}: {r['status']}")
        lines.extend(f"  {problem}" for problem in r["problems"])
    ok = all(r["ok"] for r in results)
    emit(
        args,
        {"dataset": args.dataset, "ok": ok, "versions": results},
        "\n".join(lines) or "nothing to verify",
    )
    return EXIT_OK if ok else EXIT_FAILED


def run_check(args) -> int:
    from mlops import models

    reg = _registry(args)
    manifest, _ = reg.check_candidate(args.version)
    check = models.read_check(reg.client, reg.bucket, reg.dataset, manifest.version)
    text = (
        f"{args.dataset} {manifest.version}: smoke prediction passed in a child process "
        f"({check.rows} rows, {check.seconds:g} s); recorded {reg.check_uri(manifest.version)}"
    )
    emit(args, {"dataset": args.dataset, "version": manifest.version, "check": check.to_dict()}, text)
    return EXIT_OK
