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


def test_gate_table_columns_fit_the_longest_rule_name():
    long = "fairness equalized_odds_difference[region] vs production"
    rules = [
        {"rule": "min_roc_auc", "candidate": 0.83, "threshold": ">= 0.7", "verdict": "pass"},
        {"rule": long, "candidate": 0.12, "production": 0.1, "threshold": "<= 0.35", "verdict": "fail"},
        {"rule": "slice region=north", "kind": "slice", "candidate": 0.8, "verdict": "pass"},  # hidden
        {
            "rule": "slice region=south",
            "kind": "slice",
            "candidate": 0.5,
            "threshold": "gap < 0.1",
            "verdict": "fail",
        },
    ]
    lines = demo_report.gate_table(rules, indent=6)
    assert len(lines) == 4 and "region=north" not in "\n".join(lines)
    assert all(line.startswith("      ") for line in lines)
    assert lines[2].startswith(f"      {long}  ")  # the name whole, followed by the column gap
    # every column starts (text) or ends (numbers) at the same offset on every line
    candidate_ends = {
        line.index(value) + len(value)
        for line, value in zip(lines, ["candidate", "0.8300", "0.1200", "0.5000"], strict=True)
    }
    threshold_starts = {
        line.find(value)
        for line, value in zip(lines, ["threshold", ">= 0.7", "<= 0.35", "gap < 0.1"], strict=True)
    }
    verdict_starts = {
        line.rindex(value) for line, value in zip(lines, ["verdict", "pass", "fail", "fail"], strict=True)
    }
    assert len(candidate_ends) == len(threshold_starts) == len(verdict_starts) == 1
    assert "      " + long in demo_report.render(
        {
            "runs": [
                {
                    "dag_id": "d",
                    "logical_date": "x",
                    "label": "l",
                    "section": "training",
                    "conf": {},
                    "xcom": {"gate_model": {"verdict": "V", "rules": rules}},
                }
            ]
        }
    )
