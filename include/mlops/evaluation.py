"""Evaluation and the champion/challenger gate (a TFX-style blessing).

:func:`evaluate_candidate` scores the candidate and the current production model
on the *same* holdout (re-read by S3 VersionId and checked against the hashes
recorded at training), computes the metrics (:mod:`mlops.metrics`) overall and per slice, and
writes ``metrics.json`` and ``model_card.html`` beside the candidate.

:func:`gate_candidate` then decides. The candidate is blessed only if

1. every absolute floor/ceiling (``gate.min_<metric>`` / ``gate.max_<metric>``) holds;
2. the primary metric is not worse than production's by more than
   ``gate.max_primary_regression``;
3. no slice (``training.slice_columns``) regresses by more than ``gate.max_slice_regression``;

and the behavioural checks pass: the model reloads from its serialized bytes and
predicts finite values of the right shape on canned rows, and still scores a row
whose optional features are all missing (and one with an unseen category).

With no production model yet, rules 2 and 3 are skipped and the floors decide.
The decision is written as ``blessing.json``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import metrics, storage
from mlops._util import fmt_value as _fmt
from mlops._util import utc_now_iso
from mlops.config import LOWER_IS_BETTER, DatasetConfig
from mlops.errors import MLOpsError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
BLESSING_FILE = "blessing.json"
MODEL_CARD_FILE = "model_card.html"
PASS, FAIL, SKIP = "pass", "fail", "skip"
#: Markers around the model card's verdict section; the gate fills the space between them.
GATE_START, GATE_END = "<!-- gate-verdict -->", "<!-- /gate-verdict -->"
UNSEEN_CATEGORY = "__unseen_category__"


# ---------------------------------------------------------------- metrics
@dataclass(frozen=True)
class ModelEvaluation:
    """One model's metrics on one holdout."""

    metrics: dict[str, float | None]
    slices: dict[str, dict[str, dict[str, Any]]]
    confusion_matrix: dict[str, Any] | None
    n_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_predictions(cfg: DatasetConfig, frame: pd.DataFrame, y_true, prediction, probability=None):
    """Overall metrics, slice metrics and (classification) the confusion matrix (see :mod:`mlops.metrics`)."""
    positive = None
    if cfg.is_classifier:
        positive = metrics.resolve_positive_class(cfg, metrics.labels_of(y_true, prediction))
    return ModelEvaluation(
        metrics=metrics.compute_metrics(cfg, y_true, prediction, probability, positive_class=positive),
        slices=metrics.slice_metrics(cfg, frame, y_true, prediction, probability, positive_class=positive),
        confusion_matrix=metrics.confusion(y_true, prediction) if cfg.is_classifier else None,
        n_rows=len(frame),
    )


# ---------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One row of the gate's verdict table."""

    rule: str
    kind: str  # floor | production | slice | behaviour
    metric: str | None
    candidate: float | None
    production: float | None
    threshold: str
    verdict: str  # pass | fail | skip
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Not failed (a skipped rule does not block)."""
        return self.verdict != FAIL

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def floor_rules(cfg: DatasetConfig, candidate: dict[str, float | None]) -> list[Rule]:
    """Rule 1: every ``min_<metric>`` / ``max_<metric>`` in ``gate``."""
    rules = []
    for key, limit in sorted(cfg.gate.thresholds.items()):
        kind, _, metric = key.partition("_")
        value = candidate.get(metric)
        if value is None:
            verdict, detail = FAIL, f"{metric} could not be computed on the holdout"
        elif kind == "min":
            verdict, detail = (PASS if value >= limit else FAIL), ""
        else:
            verdict, detail = (PASS if value <= limit else FAIL), ""
        op = ">=" if kind == "min" else "<="
        rules.append(Rule(key, "floor", metric, value, None, f"{op} {limit:g}", verdict, detail))
    return rules


def _compare(metric: str, cand: float, prod: float, margin: float) -> tuple[str, str]:
    if _higher_is_better(metric):
        bound = prod - margin
        return (PASS if cand >= bound else FAIL), f">= prod - {margin:g} = {bound:.4f}"
    bound = prod + margin
    return (PASS if cand <= bound else FAIL), f"<= prod + {margin:g} = {bound:.4f}"


def production_rule(
    cfg: DatasetConfig,
    candidate: dict[str, float | None],
    production: dict[str, float | None] | None,
    *,
    baseline_error: str | None = None,
) -> Rule:
    """Rule 2: the primary metric is not worse than production's by more than the margin."""
    metric, margin = cfg.gate.primary_metric, cfg.gate.max_primary_regression
    name = f"{metric}_vs_production"
    cand = candidate.get(metric)
    if production is None:
        detail = baseline_error or "no production model yet: floors decide"
        return Rule(name, "production", metric, cand, None, f"margin {margin:g}", SKIP, detail)
    prod = production.get(metric)
    if cand is None or prod is None:
        return Rule(
            name,
            "production",
            metric,
            cand,
            prod,
            f"margin {margin:g}",
            FAIL,
            f"{metric} could not be computed for {'candidate' if cand is None else 'production'}",
        )
    verdict, threshold = _compare(metric, cand, prod, margin)
    return Rule(name, "production", metric, cand, prod, threshold, verdict, f"delta {cand - prod:+.4f}")


def slice_rules(
    cfg: DatasetConfig,
    candidate_slices: dict[str, dict[str, dict[str, Any]]],
    production_slices: dict[str, dict[str, dict[str, Any]]] | None,
) -> list[Rule]:
    """Rule 3: no slice's primary metric regresses by more than ``gate.max_slice_regression``."""
    metric, margin = cfg.gate.primary_metric, cfg.gate.max_slice_regression
    if not cfg.training.slice_columns:
        return [
            Rule("slices", "slice", metric, None, None, "-", SKIP, "no training.slice_columns configured")
        ]
    if margin is None:
        return [Rule("slices", "slice", metric, None, None, "-", SKIP, "gate.max_slice_regression not set")]
    if production_slices is None:
        return [
            Rule(
                "slices",
                "slice",
                metric,
                None,
                None,
                f"margin {margin:g}",
                SKIP,
                "no production model yet: floors decide",
            )
        ]
    rules = []
    for col, values in candidate_slices.items():
        for value, cand_slice in values.items():
            name = f"slice {col}={value}"
            prod_slice = (production_slices.get(col) or {}).get(value)
            cand = cand_slice["metrics"].get(metric)
            prod = (prod_slice or {}).get("metrics", {}).get(metric)
            n = cand_slice["n"]
            if n < cfg.gate.min_slice_rows:
                threshold, verdict = f"margin {margin:g}", SKIP
                detail = f"{n} rows < gate.min_slice_rows {cfg.gate.min_slice_rows}"
            elif cand is None or prod is None:
                threshold, verdict = f"margin {margin:g}", SKIP
                detail = f"{metric} undefined on this slice ({n} rows)"
            else:
                verdict, threshold = _compare(metric, cand, prod, margin)
                detail = f"{n} rows, delta {cand - prod:+.4f}"
            rules.append(Rule(name, "slice", metric, cand, prod, threshold, verdict, detail))
    return rules


def canned_frame(cfg: DatasetConfig, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The canned rows from ``training.json`` as a frame, in config column order."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(cfg.feature_columns))
    for col in cfg.features.numeric:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in cfg.features.categorical:
        frame[col] = frame[col].astype("object").where(frame[col].notna(), np.nan)
    return frame


def behavioural_checks(
    cfg: DatasetConfig, model_bytes: bytes, *, expected_sha256: str, rows: list[dict[str, Any]]
) -> list[Rule]:
    """Reload from bytes; predict canned rows (finite, right shape); score all-optional-missing and unseen rows."""
    from mlops import serialization

    rules: list[Rule] = []
    try:
        model = serialization.load_model(
            model_bytes, expected_sha256=expected_sha256, where="candidate model.skops"
        )
        rules.append(
            Rule(
                "reloads_from_bytes",
                "behaviour",
                None,
                None,
                None,
                "loads",
                PASS,
                f"{len(model_bytes)} bytes, sha256 {expected_sha256[:12]}",
            )
        )
    except MLOpsError as err:
        rules.append(Rule("reloads_from_bytes", "behaviour", None, None, None, "loads", FAIL, str(err)))
        return rules + [
            Rule(name, "behaviour", None, None, None, "-", FAIL, "model did not load")
            for name in ("canned_rows_finite", "optional_missing_scores", "unseen_category_scores")
        ]
    frame = canned_frame(cfg, rows)
    rules.append(_predict_check("canned_rows_finite", model, cfg, frame, f"{len(frame)} canned rows"))
    if cfg.features.optional:
        missing = frame.head(1).copy()
        for col in cfg.features.optional:
            missing[col] = np.nan
        rules.append(
            _predict_check(
                "optional_missing_scores",
                model,
                cfg,
                missing,
                f"optional {list(cfg.features.optional)} all missing",
            )
        )
    else:
        rules.append(
            Rule(
                "optional_missing_scores",
                "behaviour",
                None,
                None,
                None,
                "-",
                SKIP,
                "no optional features in the config",
            )
        )
    if cfg.features.categorical:
        unseen = frame.head(1).copy()
        for col in cfg.features.categorical:
            unseen[col] = UNSEEN_CATEGORY
        rules.append(
            _predict_check(
                "unseen_category_scores", model, cfg, unseen, f"categoricals set to {UNSEEN_CATEGORY!r}"
            )
        )
    return rules


def _predict_check(name: str, model, cfg: DatasetConfig, frame, what: str) -> Rule:
    from mlops.training import predict

    expected = f"{len(frame)} finite"
    try:
        pred, proba = predict(model, cfg, frame)
    except Exception as err:  # any failure to score is a failed check, not a crash
        return Rule(
            name, "behaviour", None, None, None, expected, FAIL, f"{what}: {type(err).__name__}: {err}"
        )
    values = np.asarray(proba if proba is not None else pred, dtype="float64")
    if values.shape != (len(frame),):
        return Rule(
            name,
            "behaviour",
            None,
            None,
            None,
            expected,
            FAIL,
            f"{what}: shape {values.shape}, expected ({len(frame)},)",
        )
    if not np.all(np.isfinite(values)):
        return Rule(
            name, "behaviour", None, None, None, expected, FAIL, f"{what}: non-finite {values.tolist()}"
        )
    if proba is not None and (values.min() < 0 or values.max() > 1):
        return Rule(
            name, "behaviour", None, None, None, expected, FAIL, f"{what}: probability outside [0, 1]"
        )
    return Rule(name, "behaviour", None, None, None, expected, PASS, f"{what}: ok")


# ---------------------------------------------------------------- blessing
@dataclass(frozen=True)
class Blessing:
    """The gate's decision (``blessing.json``)."""

    blessed: bool
    candidate: str
    candidate_model_sha256: str
    dataset: str
    baseline_version: str | None
    baseline_pointer_etag: str | None
    data_hash: str
    primary_metric: str
    candidate_metrics: dict[str, float | None]
    production_metrics: dict[str, float | None] | None
    thresholds: dict[str, Any]
    rules: list[Rule]
    forced: bool = False
    force_reason: str = ""
    actor: str | None = None
    evaluation_id: str | None = None
    decided_at: str = field(default_factory=utc_now_iso)

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.rules if r.verdict == FAIL]

    @property
    def behaviour_ok(self) -> bool:
        return all(r.verdict != FAIL for r in self.rules if r.kind == "behaviour")

    @property
    def publish(self) -> bool:
        """Publish if blessed; a forced run publishes an unblessed candidate only if it behaves."""
        return self.blessed or (self.forced and self.behaviour_ok)

    def verdict_line(self) -> str:
        checked = [r for r in self.rules if r.verdict != SKIP]
        champion = self.baseline_version or "none"
        if self.blessed:
            return (
                f"VERDICT: BLESSED candidate={self.candidate} champion={champion} "
                f"({len(checked)}/{len(checked)} checks)"
            )
        line = f"VERDICT: NOT BLESSED candidate={self.candidate} champion={champion} failed=[{self._failed_short()}]"
        if self.forced:
            line += (
                " FORCED: publishing anyway" if self.publish else " FORCE REFUSED: behavioural checks failed"
            )
        return line

    def _failed_short(self) -> str:
        """Failed rules, with more than two failed slices counted rather than listed."""
        slices = [r for r in self.failed if r.startswith("slice ")]
        names = [r for r in self.failed if not r.startswith("slice ")]
        names += slices if len(slices) <= 2 else [f"{len(slices)} slices"]
        return ", ".join(names)

    def table(self) -> str:
        return rules_table(self.rules)

    def summary(self) -> dict[str, Any]:
        """The small, JSON-safe view for XCom and the demo summary."""
        return {
            "dataset": self.dataset,
            "candidate": self.candidate,
            "blessed": self.blessed,
            "publish": self.publish,
            "forced": self.forced,
            "verdict": self.verdict_line(),
            "failed": self.failed,
            "baseline_version": self.baseline_version,
            "baseline_pointer_etag": self.baseline_pointer_etag,
            "primary_metric": self.primary_metric,
            "candidate_metrics": self.candidate_metrics,
            "production_metrics": self.production_metrics,
            "rules": [r.to_dict() for r in self.rules],
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rules"] = [r.to_dict() for r in self.rules]
        data["failed"] = self.failed
        data["publish"] = self.publish
        data["verdict"] = self.verdict_line()
        return data


def rules_table(rules: list[Rule]) -> str:
    """A fixed-width table: rule | candidate | production | threshold | verdict."""
    header = ("rule", "candidate", "production", "threshold", "verdict")
    rows = [(r.rule, _fmt(r.candidate), _fmt(r.production), r.threshold, r.verdict.upper()) for r in rules]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def decide(
    cfg: DatasetConfig,
    *,
    candidate: dict[str, Any],
    production: dict[str, Any] | None,
    behaviour: list[Rule],
    candidate_id: str,
    candidate_sha256: str,
    baseline_version: str | None,
    baseline_pointer_etag: str | None,
    data_hash: str,
    baseline_error: str | None = None,
    force: bool = False,
    force_reason: str = "",
    actor: str | None = None,
    evaluation_id: str | None = None,
) -> Blessing:
    """Apply the three rules and the behavioural checks. ``candidate``/``production`` are
    :meth:`ModelEvaluation.to_dict` dicts (``production`` None when there is no production model)."""
    rules = floor_rules(cfg, candidate["metrics"])
    rules.append(
        production_rule(
            cfg, candidate["metrics"], production and production["metrics"], baseline_error=baseline_error
        )
    )
    rules.extend(slice_rules(cfg, candidate["slices"], production and production["slices"]))
    rules.extend(behaviour)
    blessed = all(r.verdict != FAIL for r in rules)
    thresholds = {
        "primary_metric": cfg.gate.primary_metric,
        "max_primary_regression": cfg.gate.max_primary_regression,
        "max_slice_regression": cfg.gate.max_slice_regression,
        "min_slice_rows": cfg.gate.min_slice_rows,
        **cfg.gate.thresholds,
    }
    return Blessing(
        blessed=blessed,
        candidate=candidate_id,
        candidate_model_sha256=candidate_sha256,
        dataset=cfg.name,
        baseline_version=baseline_version,
        baseline_pointer_etag=baseline_pointer_etag,
        data_hash=data_hash,
        primary_metric=cfg.gate.primary_metric,
        candidate_metrics=candidate["metrics"],
        production_metrics=production and production["metrics"],
        thresholds=thresholds,
        rules=rules,
        forced=bool(force and not blessed),
        force_reason=force_reason if force and not blessed else "",
        actor=actor,
        evaluation_id=evaluation_id,
    )


# ---------------------------------------------------------------- the steps
@dataclass(frozen=True)
class EvaluationResult:
    """What the evaluate step hands on (small, JSON-safe)."""

    dataset: str
    candidate_prefix: str
    metrics_uri: str
    model_card_uri: str
    primary_metric: str
    candidate: dict[str, float | None]
    production: dict[str, float | None] | None
    baseline_version: str | None
    baseline_pointer_etag: str | None
    baseline_error: str | None
    holdout_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        m = self.primary_metric
        prod = "none" if self.production is None else _fmt(self.production.get(m))
        lines = [
            f"holdout {self.holdout_rows} rows; {m}: candidate {_fmt(self.candidate.get(m))}, "
            f"production ({self.baseline_version or 'none'}) {prod}"
        ]
        for name, value in self.candidate.items():
            other = None if self.production is None else self.production.get(name)
            lines.append(f"metric {name}: candidate {_fmt(value)} production {_fmt(other)}")
        return lines


def _prefix(candidate_prefix: str) -> str:
    return candidate_prefix if candidate_prefix.endswith("/") else candidate_prefix + "/"


def _production_baseline(client, cfg: DatasetConfig, bucket: str):
    """``(model, version, pointer_etag, error)`` of the production model, or Nones if there is none."""
    from mlops.registry import ModelRegistry

    registry = ModelRegistry(client, bucket, cfg.name)
    pointer = registry.pointer("production")
    if pointer is None:
        log.info("production model: none yet (%s) -> floors alone decide", registry.alias_uri("production"))
        return None, None, None, None
    try:
        _, manifest = registry.resolve("production")
        model = registry.load_model(pointer.version, manifest)
    except MLOpsError as err:
        log.warning("production model %s could not be loaded: %s", pointer.version, err)
        return None, pointer.version, pointer.etag, f"production {pointer.version} could not be loaded: {err}"
    log.info("production model: %s %s (pointer ETag %s)", cfg.name, pointer.version, pointer.etag)
    return model, pointer.version, pointer.etag, None


def evaluate_candidate(client, cfg: DatasetConfig, candidate_prefix: str, *, bucket: str) -> EvaluationResult:
    """Score candidate and production on the candidate's holdout; write ``metrics.json`` and the model card."""
    from mlops import model_card, serialization, training

    prefix = _prefix(candidate_prefix)
    record = storage.get_json(client, prefix + training.TRAINING_FILE)
    holdout = training.read_split(client, cfg, record, "holdout")
    y_true = training.target_array(holdout, cfg)
    log.info(
        "holdout %s..%s: %d rows (re-read by VersionId, hashes match)",
        record["split"]["holdout_start"],
        record["split"]["holdout_end"],
        len(holdout),
    )
    with training.compute_threads():
        model = serialization.load_model(
            storage.get_bytes(client, prefix + training.MODEL_FILE),
            expected_sha256=record["model_sha256"],
            where=prefix + training.MODEL_FILE,
        )
        cand_pred, cand_proba = training.predict(model, cfg, holdout)
        cand = evaluate_predictions(cfg, holdout, y_true, cand_pred, cand_proba)

        prod_model, baseline_version, baseline_etag, baseline_error = _production_baseline(
            client, cfg, bucket
        )
        prod, prod_pred, prod_proba = None, None, None
        if prod_model is not None:
            try:
                prod_pred, prod_proba = training.predict(prod_model, cfg, holdout)
                prod = evaluate_predictions(cfg, holdout, y_true, prod_pred, prod_proba)
            except Exception as err:  # a champion that cannot score today's data is reported, not fatal
                baseline_error = (
                    f"production {baseline_version} could not score the holdout: {type(err).__name__}: {err}"
                )
                log.warning("%s", baseline_error)
                prod_pred = prod_proba = None
    for name, value in cand.metrics.items():
        log.info(
            "metric %s: candidate %s production %s",
            name,
            _fmt(value),
            _fmt(prod.metrics.get(name)) if prod else "-",
        )

    doc = {
        "dataset": cfg.name,
        "task": cfg.task,
        "candidate_prefix": prefix,
        "primary_metric": cfg.gate.primary_metric,
        "holdout": {
            k: record["split"][k] for k in ("holdout_start", "holdout_end", "holdout_days", "holdout_rows")
        },
        "data_hash": record["data_hash"],
        "candidate": cand.to_dict(),
        "production": prod.to_dict() if prod else None,
        "baseline_version": baseline_version,
        "baseline_pointer_etag": baseline_etag,
        "baseline_error": baseline_error,
        "evaluated_at": utc_now_iso(),
    }
    metrics_uri = storage.put_json(client, prefix + METRICS_FILE, doc).uri
    log.info("wrote %s", metrics_uri)

    with training.compute_threads():
        html = model_card.render_model_card(
            cfg,
            training_record=record,
            metrics=doc,
            y_true=y_true,
            candidate=(cand_pred, cand_proba),
            production=None if prod is None else (prod_pred, prod_proba),
        )
    card_uri = storage.put_bytes(
        client, prefix + MODEL_CARD_FILE, html.encode(), content_type="text/html"
    ).uri
    log.info("wrote model card %s (%d KiB)", card_uri, len(html) // 1024)
    return EvaluationResult(
        dataset=cfg.name,
        candidate_prefix=prefix,
        metrics_uri=metrics_uri,
        model_card_uri=card_uri,
        primary_metric=cfg.gate.primary_metric,
        candidate=cand.metrics,
        production=prod.metrics if prod else None,
        baseline_version=baseline_version,
        baseline_pointer_etag=baseline_etag,
        baseline_error=baseline_error,
        holdout_rows=len(holdout),
    )


def gate_candidate(
    client,
    cfg: DatasetConfig,
    candidate_prefix: str,
    *,
    force: bool = False,
    reason: str = "",
    actor: str | None = None,
    evaluation_id: str | None = None,
) -> Blessing:
    """Decide on the evaluated candidate and write ``blessing.json`` (and the verdict into the model card).

    ``force`` (audited with ``reason`` and ``actor``) lets an unblessed candidate be
    published if its behavioural checks pass; ``blessed`` stays false in the record.
    """
    from mlops import training

    prefix = _prefix(candidate_prefix)
    record = storage.get_json(client, prefix + training.TRAINING_FILE)
    doc = storage.get_json(client, prefix + METRICS_FILE)
    model_bytes = storage.get_bytes(client, prefix + training.MODEL_FILE)
    with training.compute_threads():
        behaviour = behavioural_checks(
            cfg, model_bytes, expected_sha256=record["model_sha256"], rows=record["canned_rows"]
        )
    blessing = decide(
        cfg,
        candidate=doc["candidate"],
        production=doc.get("production"),
        behaviour=behaviour,
        candidate_id=prefix,
        candidate_sha256=record["model_sha256"],
        baseline_version=doc.get("baseline_version"),
        baseline_pointer_etag=doc.get("baseline_pointer_etag"),
        data_hash=record["data_hash"],
        baseline_error=doc.get("baseline_error"),
        force=force,
        force_reason=reason,
        actor=actor,
        evaluation_id=evaluation_id or prefix,
    )
    for rule in blessing.rules:
        log.info(
            "check %s: %s %s -> %s%s",
            rule.rule,
            _fmt(rule.candidate),
            rule.threshold,
            rule.verdict,
            f" ({rule.detail})" if rule.detail else "",
        )
    storage.put_json(client, prefix + BLESSING_FILE, blessing.to_dict())
    log.info("wrote %s", prefix + BLESSING_FILE)
    _stamp_model_card(client, prefix, blessing)
    return blessing


def _stamp_model_card(client, prefix: str, blessing: Blessing) -> None:
    """Put the verdict table into the model card (best effort: the card is documentation)."""
    from mlops.model_card import gate_section

    uri = prefix + MODEL_CARD_FILE
    try:
        html = storage.get_bytes(client, uri).decode()
    except MLOpsError:
        log.warning("no model card at %s; verdict not added", uri)
        return
    start, end = html.find(GATE_START), html.find(GATE_END)
    if start < 0 or end < start:
        log.warning("model card %s has no verdict section; verdict not added", uri)
        return
    html = html[: start + len(GATE_START)] + gate_section(blessing) + html[end:]
    storage.put_bytes(client, uri, html.encode(), content_type="text/html")


def training_summary(client, candidate_prefix: str) -> dict[str, Any]:
    """One small dict per candidate for reports and the demo: window, split, metrics, each rule's verdict.

    Reads ``training.json`` and, when present, ``metrics.json`` and ``blessing.json``.
    """
    from mlops import training

    prefix = _prefix(candidate_prefix)
    record = storage.get_json(client, prefix + training.TRAINING_FILE)
    out: dict[str, Any] = {
        "dataset": record["dataset"],
        "candidate_prefix": prefix,
        "estimator": record["model"]["estimator"],
        "window": {k: record["window"][k] for k in ("start", "end", "window_days")},
        "split": {k: v for k, v in record["split"].items() if not k.endswith("_days")},
        "best_params": record.get("best_params"),
        "data_hash": record["data_hash"],
        "model_sha256": record["model_sha256"],
        "model_card_uri": prefix + MODEL_CARD_FILE,
    }
    for name, key in ((METRICS_FILE, "metrics"), (BLESSING_FILE, "blessing")):
        try:
            out[key] = storage.get_json(client, prefix + name)
        except MLOpsError:
            out[key] = None
    metrics, blessing = out.pop("metrics"), out.pop("blessing")
    if metrics:
        out["primary_metric"] = metrics["primary_metric"]
        out["candidate_metrics"] = metrics["candidate"]["metrics"]
        out["production_metrics"] = (metrics.get("production") or {}).get("metrics")
        out["baseline_version"] = metrics.get("baseline_version")
    if blessing:
        out["blessed"] = blessing["blessed"]
        out["verdict"] = blessing.get("verdict")
        out["rules"] = [
            {k: r.get(k) for k in ("rule", "candidate", "production", "threshold", "verdict", "passed")}
            for r in blessing.get("rules", [])
        ]
    return out
