"""Fix hints in the words of whoever runs the validation: CLI flags, DAG Params or Python arguments.

The same failure reads ``validate without --labelled`` on the command line, ``trigger with
Param labelled=false`` in a DAG task log and ``validate with labelled=False`` in a notebook.
The CLI passes ``hint_style="cli"``, the validation operator ``"dag"``; the default is
``"python"``.
"""

from __future__ import annotations

from mlops.errors import ConfigError

HINT_STYLES = ("cli", "dag", "python")
DEFAULT_STYLE = "python"

_HINTS = {
    "unlabelled": {
        "cli": "validate without --labelled",
        "dag": "trigger with Param labelled=false",
        "python": "validate with labelled=False",
    },
    "labelled": {
        "cli": "validate with --labelled",
        "dag": "trigger with Param labelled=true",
        "python": "validate with labelled=True",
    },
}


def check_style(style: str) -> str:
    """``style`` if it is one of :data:`HINT_STYLES`; else a :class:`ConfigError` naming them."""
    if style not in HINT_STYLES:
        raise ConfigError(
            f"The 'hint_style' parameter must be one of {list(HINT_STYLES)}. Got {style!r} instead."
        )
    return style


def hint(kind: str, style: str, *, start: bool = False) -> str:
    """The fix ``kind`` (``labelled``/``unlabelled``) in ``style`` words; ``start`` capitalises it."""
    text = _HINTS[kind][check_style(style)]
    return text[0].upper() + text[1:] if start else text
