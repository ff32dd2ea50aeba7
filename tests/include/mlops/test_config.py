"""The dataset config loader: valid configs load, bad ones name the key and the file."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.config import available_datasets, load_dataset_config
from mlops.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[3] / "include" / "configs"


def _write(tmp_path: Path, mutate, source: str = "credit", name: str = "broken") -> Path:
    """A copy of the shipped ``source`` config, changed by ``mutate``, as ``tmp_path/<name>.yaml``."""
    raw = yaml.safe_load((CONFIG_DIR / f"{source}.yaml").read_text())
    mutate(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("name", available_datasets())
def test_every_shipped_config_loads(name):
    cfg = load_dataset_config(name)
    assert cfg.name == name
    assert cfg.feature_columns
    assert cfg.gate.primary_metric


def test_credit_config_shape():
    cfg = load_dataset_config("credit")
    assert cfg.is_classifier
    assert 15 <= len(cfg.feature_columns) <= 25
    assert cfg.gate.thresholds["min_roc_auc"] == pytest.approx(0.70)


def test_diabetes_is_regression():
    assert load_dataset_config("diabetes").task == "regression"


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ConfigError, match=r"No dataset config .*nope\.yaml.*Known datasets: \['credit'"):
        load_dataset_config("nope")


def test_all_is_not_a_dataset_name(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update(name="all"))
    with pytest.raises(ConfigError, match="'all' is reserved"):
        load_dataset_config(path)


def test_a_missing_config_says_how_to_create_one():
    with pytest.raises(ConfigError, match="mlops init NAME --sample FILE"):
        load_dataset_config("no_such_dataset")


def test_typo_names_key_and_file(tmp_path):
    path = _write(tmp_path, lambda raw: raw["model"].update(estimatr="x"))
    with pytest.raises(ConfigError, match=r"broken\.yaml.*unknown key 'model\.estimatr'"):
        load_dataset_config(path)


def test_missing_key_is_named(tmp_path):
    path = _write(tmp_path, lambda raw: raw.pop("target"))
    with pytest.raises(ConfigError, match=r"missing required key 'target'"):
        load_dataset_config(path)


def test_wrong_estimator_for_task(tmp_path):
    path = _write(tmp_path, lambda raw: raw["model"].update(estimator="ridge"))
    with pytest.raises(ConfigError, match=r"'ridge' is not a classification estimator"):
        load_dataset_config(path)


def test_bad_threshold_name(tmp_path):
    path = _write(tmp_path, lambda raw: raw["gate"].update(min_rsquared=0.5))
    with pytest.raises(ConfigError, match=r"gate\.min_rsquared is not a threshold"):
        load_dataset_config(path)


def test_bad_value_shows_value(tmp_path):
    path = _write(tmp_path, lambda raw: raw["training"].update(holdout_days=40))
    with pytest.raises(ConfigError, match=r"holdout_days \(40\) must be smaller than training\.window_days"):
        load_dataset_config(path)


def test_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_dataset_config(path)


def test_top_level_must_be_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"must be a mapping"):
        load_dataset_config(path)


# ---------------------------------------------------------------- positive_class
def test_positive_class_is_unset_by_default():
    assert load_dataset_config("credit").positive_class is None


@pytest.mark.parametrize(("value", "target_values"), [("bad", ["bad", "good"]), (1, [0, 1]), (True, None)])
def test_positive_class_keeps_its_scalar_type(tmp_path, value, target_values):
    def mutate(raw):
        raw["positive_class"] = value
        raw["validation"]["target_values"] = target_values

    cfg = load_dataset_config(_write(tmp_path, mutate))
    assert cfg.positive_class == value and type(cfg.positive_class) is type(value)


def test_positive_class_must_be_a_target_value(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update(positive_class="bad"))
    with pytest.raises(
        ConfigError, match=r"positive_class 'bad' is not one of validation\.target_values \[0, 1\]"
    ):
        load_dataset_config(path)


def test_positive_class_is_for_classification_only(tmp_path):
    raw = yaml.safe_load((CONFIG_DIR / "diabetes.yaml").read_text())
    raw["positive_class"] = 1
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"positive_class \(1\) applies to classification only"):
        load_dataset_config(path)


def test_positive_class_rejects_non_scalars(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update(positive_class=[1]))
    with pytest.raises(ConfigError, match=r"key 'positive_class"):
        load_dataset_config(path)


# ---------------------------------------------------------------- generality (issue 11)
def test_date_column_is_optional_and_id_type_defaults_to_string(tmp_path):
    cfg = load_dataset_config(_write(tmp_path, lambda raw: raw.pop("date_column")))
    assert cfg.date_column is None and cfg.id_type == "string" and not cfg.labels.in_features
    assert cfg.columns == ("application_id", *cfg.feature_columns)
    assert load_dataset_config("credit").columns[:2] == ("application_id", "application_date")


def test_boolean_features_and_boolean_value_sets_stay_booleans(tmp_path):
    def mutate(raw):
        raw["features"]["boolean"] = ["is_joint"]
        raw["validation"]["value_sets"]["is_joint"] = [True, False]
        raw["validation"]["target_values"] = [False, True]
        raw["training"]["slice_columns"] = ["region", "is_joint"]

    cfg = load_dataset_config(_write(tmp_path, mutate))
    assert cfg.features.boolean == ("is_joint",) and cfg.feature_columns[-1] == "is_joint"
    assert cfg.features.kind_of("is_joint") == "boolean" and cfg.features.kind_of("age") == "numeric"
    assert [type(x) for x in cfg.validation.value_sets["is_joint"]] == [bool, bool]
    assert [type(x) for x in cfg.validation.target_values] == [bool, bool]
    assert cfg.validation.value_sets["loan_term_months"][0] == 12  # ints stay ints, strings stay strings
    assert cfg.validation.value_sets["region"][0] == "north"


def test_a_feature_in_two_kinds_is_refused(tmp_path):
    path = _write(tmp_path, lambda raw: raw["features"].update(boolean=["age"]))
    with pytest.raises(ConfigError, match=r"feature 'age' is listed as both numeric and boolean"):
        load_dataset_config(path)


def test_labels_in_features_and_id_type_parse(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update(labels={"in_features": True}, id_type="integer"))
    cfg = load_dataset_config(path)
    assert cfg.labels.in_features and cfg.id_type == "integer"
    with pytest.raises(ConfigError, match=r"key 'id_type'"):
        load_dataset_config(_write(tmp_path, lambda raw: raw.update(id_type="uuid")))


def test_class_shares_are_checked(tmp_path):
    def shares(value):
        return lambda raw: raw["validation"].update(class_shares=value)

    cfg = load_dataset_config(_write(tmp_path, shares({0: [0.2, 0.99], 1: [0.01, 0.8]})))
    assert cfg.validation.class_shares == {0: (0.2, 0.99), 1: (0.01, 0.8)}
    with pytest.raises(ConfigError, match=r"class_shares names classes \[7\] that are not in"):
        load_dataset_config(_write(tmp_path, shares({7: [0.1, 0.2]})))
    with pytest.raises(ConfigError, match=r"class_shares\.0 is \[0\.2, 1\.5\]; shares must be in \[0, 1\]"):
        load_dataset_config(_write(tmp_path, shares({0: [0.2, 1.5]})))


def test_positive_class_is_for_binary_targets(tmp_path):
    def mutate(raw):
        raw["positive_class"] = 2
        raw["validation"]["target_values"] = [0, 1, 2]

    with pytest.raises(ConfigError, match=r"positive_class \(2\) applies to binary targets; .* 3 classes"):
        load_dataset_config(_write(tmp_path, mutate))


def test_config_dir_can_move(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(
        (CONFIG_DIR / "credit.yaml").read_text().replace("name: credit", "name: mine")
    )
    monkeypatch.setenv("MLOPS_CONFIG_DIR", str(tmp_path))
    assert available_datasets() == ["mine"] and load_dataset_config("mine").name == "mine"


# ---------------------------------------------------------------- metric names by number of classes
def _write_wine(tmp_path: Path, mutate) -> Path:
    return _write(tmp_path, mutate, source="wine", name="wine")


def test_a_multiclass_config_gates_on_multiclass_metrics(tmp_path):
    from mlops.metric_names import MULTICLASS_METRICS

    def multiclass_gate(raw):
        raw["gate"] = {"primary_metric": "f1_macro", "min_roc_auc_ovr": 0.9, "min_recall_macro": 0.8}
        raw["monitoring"]["alert_rules"].append(
            {"name": "f1", "kind": "metric_drop", "metric": "f1_weighted", "max_drop": 0.05}
        )

    cfg = load_dataset_config(_write_wine(tmp_path, multiclass_gate))
    assert cfg.declared_classes == (3, "3 classes in validation.target_values [0, 1, 2]")
    assert cfg.gate.thresholds == {"min_roc_auc_ovr": 0.9, "min_recall_macro": 0.8}

    def binary_gate(raw):
        raw["gate"].update(primary_metric="roc_auc", min_recall=0.5)

    with pytest.raises(ConfigError) as err:
        load_dataset_config(_write_wine(tmp_path, binary_gate))
    message = str(err.value)
    assert "gate.primary_metric 'roc_auc', gate.min_recall 'recall': binary-only metric(s)" in message
    assert "the target is multiclass (3 classes in validation.target_values [0, 1, 2])" in message
    assert f"use one of the multiclass metrics {list(MULTICLASS_METRICS)}" in message
    assert "Traceback" not in message and message.count("\n") == 0


def test_a_binary_config_refuses_multiclass_metrics_and_typos(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"gate\.min_f1_macro 'f1_macro': multiclass-only metric\(s\), but the "
        r"target is binary \(2 classes in validation\.target_values \[0, 1\]\); use one of the "
        r"binary metrics \['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss'\]",
    ):
        load_dataset_config(_write(tmp_path, lambda raw: raw["gate"].update(min_f1_macro=0.5)))

    def drop_on(metric):
        rule = {"name": "drop", "kind": "metric_drop", "metric": metric, "max_drop": 0.05}
        return lambda raw: raw["monitoring"]["alert_rules"].append(rule)

    with pytest.raises(
        ConfigError, match=r"monitoring.alert_rules 'drop' metric 'roc_auc_ovr': multiclass-only"
    ):
        load_dataset_config(_write(tmp_path, drop_on("roc_auc_ovr")))
    with pytest.raises(
        ConfigError, match=r"alert_rules \['drop'\]: metric_drop metric\(s\) \['auc'\] are not metrics"
    ):
        load_dataset_config(_write(tmp_path, drop_on("auc")))


def test_undeclared_classes_defer_the_check_to_the_model(tmp_path):
    """Without validation.target_values (or class_shares, positive_class) config load cannot tell; the
    model's classes decide at evaluation (check_names_against_classes)."""
    from mlops.config import check_names_against_classes

    def undeclared(raw):
        raw["validation"].pop("target_values")
        raw["validation"].pop("class_shares")
        raw["gate"] = {"primary_metric": "accuracy", "min_roc_auc": 0.7}

    cfg = load_dataset_config(_write_wine(tmp_path, undeclared))
    assert cfg.declared_classes == (None, "")
    check_names_against_classes(cfg, [0, 1])  # roc_auc is a binary metric: fine for two classes
    with pytest.raises(
        ConfigError,
        match=r"wine\.yaml: gate\.min_roc_auc 'roc_auc': binary-only metric\(s\), but the "
        r"target is multiclass \(the model has 3 classes \[0, 1, 2\]\); use one of the multiclass",
    ):
        check_names_against_classes(cfg, [0, 1, 2])
    positive = load_dataset_config(_write(tmp_path, lambda raw: raw.update(positive_class=1)))
    assert positive.declared_classes[0] == 2


def test_fairness_names_follow_the_declared_classes(tmp_path):
    def fairness(section):
        return lambda raw: raw.update(fairness=section)

    cfg = load_dataset_config(_write_wine(tmp_path, fairness({"sensitive_features": ["site"]})))
    assert cfg.fairness.group_metrics is None and cfg.fairness.group_metrics_for("multiclass") == (
        "accuracy",
        "recall_macro",
    )
    limits = {
        "sensitive_features": ["site"],
        "limits": {"equalized_odds_difference": 0.2, "recall_group_min": 0.5},
    }
    with pytest.raises(ConfigError) as err:
        load_dataset_config(_write_wine(tmp_path, fairness(limits)))
    message = str(err.value)
    assert (
        "fairness ['equalized_odds_difference', 'recall_group_min'] do not apply to a multiclass dataset"
        in message
    )
    assert "use the group metrics ['accuracy', 'recall_macro', 'precision_macro', 'f1_macro']" in message
    assert "need a positive class (binary targets only)" in message
    macro = {"sensitive_features": ["region"], "group_metrics": ["recall_macro"]}
    with pytest.raises(ConfigError, match=r"fairness \['recall_macro'\] do not apply to a binary dataset"):
        load_dataset_config(_write(tmp_path, fairness(macro)))


def test_messages_name_the_config_file_under_mlops_config_dir(tmp_path, monkeypatch):
    """A deployment's own config directory is named in messages, not include/configs/."""
    from mlops.config import config_label
    from mlops.fairness_metrics import sensitive_groups

    assert config_label("credit") == "include/configs/credit.yaml"
    monkeypatch.setenv("MLOPS_CONFIG_DIR", str(tmp_path))
    assert config_label("credit") == str(tmp_path / "credit.yaml")
    cfg = load_dataset_config(CONFIG_DIR / "credit.yaml")
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "credit.yaml"))):
        sensitive_groups(cfg, pd.DataFrame({"other": [1, 2]}), "region")
