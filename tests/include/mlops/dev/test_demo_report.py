"""The demo's readable summary: every batch with its verdict, the rule table, and the overall result."""

from __future__ import annotations

from mlops.dev import demo_report


def _summary(ok: bool = True) -> dict:
    return {
        "bucket": "mlops-demo",
        "seconds": 1.0,
        "ok": ok,
        "failures": [] if ok else ["mlops_training 2026-01-31: failed (expected success)"],
        "validation": [
            {"date": "2026-02-19", "success": True},
            {
                "date": "2026-02-20",
                "success": False,
                "quarantine_uri": "s3://b/quarantine/x.parquet",
                "failures": [
                    'column "credit_score": 39.9% null (allowed 2%) — expect_column_values_to_not_be_null'
                ],
            },
        ],
        "runs": [
            {
                "dag_id": "mlops_training",
                "logical_date": "2026-01-31",
                "label": "train",
                "section": "training",
                "conf": {"dataset": "credit"},
                "state": "success",
                "expected": "success",
                "seconds": 3.0,
                "xcom": {
                    "gate_model": {
                        "verdict": "VERDICT: BLESSED candidate=c champion=none (1/1 checks)",
                        "rules": [
                            {
                                "rule": "min_roc_auc",
                                "candidate": 0.83,
                                "threshold": ">= 0.7",
                                "verdict": "pass",
                            }
                        ],
                    }
                },
            }
        ],
    }


def test_lists_every_batch_and_the_rejection_reason():
    text = demo_report.render(_summary())
    assert "2026-02-19 PASS" in text and "2026-02-20 REJECTED" in text
    assert "credit_score" in text and "s3://b/quarantine/x.parquet" in text
    assert "VERDICT: BLESSED" in text and "min_roc_auc" in text and "0.8300" in text
    assert text.rstrip().endswith("RESULT: OK")


def test_failed_demo_says_which_run():
    assert "RESULT: FAILED: mlops_training 2026-01-31" in demo_report.render(_summary(ok=False))
