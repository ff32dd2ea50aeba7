"""The one parser for rendered template values: blanks, booleans, integers, numbers, bad values."""

from __future__ import annotations

import jinja2
import pytest
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from mlops.errors import ConfigError
from mlops_operators.params import (
    ParamError,
    rendered,
    rendered_bool,
    rendered_float,
    rendered_int,
    rendered_params,
    rendered_str,
)


@pytest.mark.parametrize("value", [None, "", "None", "null", "  None ", "\tnull\n", "   "])
def test_blanks_mean_not_given(value):
    assert rendered(value) is None
    assert rendered_str(value) is None
    assert rendered_str(value, default="production") == "production"
    assert rendered_bool(value, name="force") is False
    assert rendered_bool(value, name="fail_on_reject", default=True) is True
    assert rendered_int(value, name="window_days") is None
    assert rendered_int(value, name="shards", minimum=1, default=1) == 1
    assert rendered_float(value, name="max_reject_fraction", default=0.01) == 0.01


@pytest.mark.parametrize("value", ["none", "NULL", "config", 0, False, "0", [], {}])
def test_values_that_are_not_blank_pass_through(value):
    # lower-case "none" is a value: it is the training DAG's search mode that skips the search
    assert rendered(value) is value
    assert rendered_str("none") == "none"


def test_an_empty_jinja_param_renders_to_a_blank():
    """What ``"{{ params.x }}"`` renders for a Param left empty is read as "not given"."""
    text = jinja2.Environment().from_string("{{ params.window_days }}").render(params={"window_days": None})
    assert text == "None" and rendered_int(text, name="window_days") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("False", False),
        ("true", True),
        ("false", False),
        (" TRUE ", True),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
    ],
)
def test_booleans(value, expected):
    assert rendered_bool(value, name="force", default=not expected) is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2, "truee", "t r u e"])
def test_bad_boolean_is_a_param_error(value):
    with pytest.raises(ParamError) as err:
        rendered_bool(value, name="labelled")
    assert (
        str(err.value)
        == f"The 'labelled' parameter must be a boolean (true or false). Got {value!r} instead."
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("12", 12), (" 7 ", 7), (3, 3), (4.0, 4), ("+2", 2), ("-3", -3), ("0", 0)]
)
def test_integers(value, expected):
    assert rendered_int(value, name="window_days") == expected


def test_integer_bounds_are_inclusive():
    assert rendered_int("1", name="shards", minimum=1, maximum=32) == 1
    assert rendered_int("32", name="shards", minimum=1, maximum=32) == 32
    assert rendered_int("0", name="grace_days", minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ("abc", {"minimum": 1}, "The 'max_rows' parameter must be a positive integer. Got 'abc' instead."),
        ("0", {"minimum": 1}, "The 'max_rows' parameter must be a positive integer. Got '0' instead."),
        (-1, {"minimum": 0}, "The 'max_rows' parameter must be a non-negative integer. Got -1 instead."),
        ("1", {"minimum": 2}, "The 'max_rows' parameter must be an integer >= 2. Got '1' instead."),
        ("40", {"maximum": 32}, "The 'max_rows' parameter must be an integer <= 32. Got '40' instead."),
        (
            "0",
            {"minimum": 1, "maximum": 32},
            "The 'max_rows' parameter must be an integer in [1, 32]. Got '0' instead.",
        ),
        ("1.5", {}, "The 'max_rows' parameter must be an integer. Got '1.5' instead."),
        (2.5, {}, "The 'max_rows' parameter must be an integer. Got 2.5 instead."),
        (True, {}, "The 'max_rows' parameter must be an integer. Got True instead."),
        ("none", {}, "The 'max_rows' parameter must be an integer. Got 'none' instead."),
    ],
)
def test_bad_integer_messages_are_pinned(value, kwargs, message):
    with pytest.raises(ParamError) as err:
        rendered_int(value, name="max_rows", **kwargs)
    assert str(err.value) == message


def test_floats():
    assert rendered_float("0.05", name="max_reject_fraction", minimum=0, maximum=1) == 0.05
    assert rendered_float(1, name="max_reject_fraction", minimum=0, maximum=1) == 1.0
    for bad in ("1.5", "lots", "nan", True):
        with pytest.raises(ParamError) as err:
            rendered_float(bad, name="max_reject_fraction", minimum=0, maximum=1)
        assert str(err.value) == (
            f"The 'max_reject_fraction' parameter must be a number in [0, 1]. Got {bad!r} instead."
        )


def test_a_param_error_is_a_config_error_and_names_its_owner():
    err = ParamError("max_rows", "a positive integer", "abc", owner="ScoreBatchOperator")
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert (
        str(err)
        == "The 'max_rows' parameter of ScoreBatchOperator must be a positive integer. Got 'abc' instead."
    )


class _ScoreLike(BaseOperator):
    def __init__(self, *, max_rows: str, **kwargs):
        super().__init__(**kwargs)
        self.max_rows = max_rows

    def execute(self, context):
        with rendered_params(self):
            return rendered_int(self.max_rows, name="max_rows", minimum=1)


def test_rendered_params_logs_one_error_line_and_fails_without_a_chain(oplog):
    assert _ScoreLike(task_id="t", max_rows="5").execute({}) == 5
    with pytest.raises(AirflowFailException) as err:
        _ScoreLike(task_id="t", max_rows="abc").execute({})
    message = "The 'max_rows' parameter of _ScoreLike must be a positive integer. Got 'abc' instead."
    assert str(err.value) == message
    assert err.value.__cause__ is None and err.value.__suppress_context__ is True
    assert oplog.text.count(message) == 1
    assert [e["log_level"] for e in oplog.entries if message in str(e.get("event"))] == ["error"]
