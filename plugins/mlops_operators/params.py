"""The one parser for rendered template values (``template_fields`` after Jinja rendering).

A DAG passes every optional Param as ``"{{ params.x }}"``. A Param left empty renders the
string ``"None"``; a JSON ``null`` may arrive as ``"null"``; an unset argument stays ``None``.
All three, and ``""``, mean "not given" here. Everything else is parsed in ``execute``
(never in ``__init__``), before any I/O::

    with rendered_params(self):
        shards = rendered_int(self.shards, name="shards", minimum=1, default=1)
        force = rendered_bool(self.force, name="force")
        version = rendered_str(self.version, default="production")

A bad value raises :class:`ParamError` with a message in scikit-learn's form, for example
``The 'shards' parameter of ScoreBatchOperator must be a positive integer. Got 'abc' instead.``;
:func:`rendered_params` logs it as one ERROR line and fails the task without retries.

The blank words are matched exactly (after trimming whitespace): ``"none"`` in lower case
is a value (it is a ``search`` mode of the training DAG), not a blank.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from mlops.errors import ConfigError

#: Rendered forms of "not given": Jinja renders Python None as "None", JSON null may arrive as "null".
BLANKS = ("", "None", "null")
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


class ParamError(ConfigError):
    """A rendered template value that cannot be parsed. A retry cannot fix it.

    :param name: the parameter, e.g. ``"shards"``
    :param requirement: what it must be, e.g. ``"a positive integer"``
    :param value: the value as rendered
    :param owner: the operator class name (filled in by :func:`rendered_params` when not given)
    """

    def __init__(self, name: str, requirement: str, value: Any, owner: str | None = None) -> None:
        self.name, self.requirement, self.value, self.owner = name, requirement, value, owner
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f" of {self.owner}" if self.owner else ""
        return f"The {self.name!r} parameter{where} must be {self.requirement}. Got {self.value!r} instead."

    def __str__(self) -> str:
        return self.message


@contextlib.contextmanager
def rendered_params(op: Any) -> Iterator[None]:
    """Parse ``op``'s rendered values: a :class:`ParamError` becomes one ERROR line and a failed task.

    The message names ``op``'s class; the task fails with ``AirflowFailException(message) from None``
    (no retries, no chained traceback).
    """
    try:
        yield
    except ParamError as err:
        if err.owner is None:
            err.owner = type(op).__name__
        op.log.error("%s", err.message)
        raise AirflowFailException(err.message) from None


def rendered(value: Any) -> Any | None:
    """``None`` when ``value`` means "not given" (``None``, ``""``, ``"None"``, ``"null"``, trimmed), else ``value``."""
    if value is None or (isinstance(value, str) and value.strip() in BLANKS):
        return None
    return value


def rendered_str(value: Any, *, default: str | None = None) -> str | None:
    """The value as a trimmed string; ``default`` when it is blank (see :func:`rendered`)."""
    value = rendered(value)
    return default if value is None else str(value).strip()


def rendered_bool(value: Any, *, name: str, default: bool = False) -> bool:
    """A boolean: ``True``/``False``, or ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``
    (any case); ``default`` when blank. Anything else raises :class:`ParamError`."""
    value = rendered(value)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ParamError(name, "a boolean (true or false)", value)


def rendered_int(
    value: Any,
    *,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> int | None:
    """An integer within ``[minimum, maximum]`` (either bound optional); ``default`` when blank.

    Accepts ints, integral floats and strings such as ``"12"``; booleans, ``"1.5"`` and words
    raise :class:`ParamError`.
    """
    value = rendered(value)
    if value is None:
        return default
    number = _to_int(value)
    if number is None or not _within(number, minimum, maximum):
        raise ParamError(name, _requirement("integer", minimum, maximum), value)
    return number


def rendered_float(
    value: Any,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    default: float | None = None,
) -> float | None:
    """A finite number within ``[minimum, maximum]`` (either bound optional); ``default`` when blank."""
    value = rendered(value)
    if value is None:
        return default
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(str(value).strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not _within(number, minimum, maximum):
        raise ParamError(name, _requirement("number", minimum, maximum), value)
    return number


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _within(number: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or number >= minimum) and (maximum is None or number <= maximum)


def _requirement(kind: str, minimum: float | None, maximum: float | None) -> str:
    """``"a positive integer"``, ``"a number in [0, 1]"``, ``"an integer >= 2"`` ..."""
    article = "an" if kind == "integer" else "a"
    if minimum is not None and maximum is not None:
        return f"{article} {kind} in [{minimum}, {maximum}]"
    if maximum is not None:
        return f"{article} {kind} <= {maximum}"
    if minimum is None:
        return f"{article} {kind}"
    if kind == "integer" and minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return f"a non-negative {kind}"
    return f"{article} {kind} >= {minimum}"
