"""Scoring one chunk: coerce it to the model's feature types, predict, split scored rows from rejects.

Missing values in a feature are not rejects (the model's imputers handle them). A value that
cannot be coerced to the feature's type (``"abc"`` in a numeric column), a non-finite number,
a null id, or a row the model raises on are; each reject keeps its row, column, value and reason.

The ``probability`` column is the probability of the positive class, the column
:func:`mlops.metrics.positive_index` picks from the model's ``classes_`` with the config's
``positive_class`` (the one positive-class rule of evaluation and monitoring). A multiclass
model (more than two ``classes_``) has no positive class: its parts carry one
``proba_<class>`` column per class instead (:func:`mlops.artifacts.scoring.proba_column`).
Boolean features are scored as the model was trained on them: 1.0/0.0 (``true``/``false``
text too), NaN for missing; any other value is a reject.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from mlops import metrics
from mlops.artifacts import FeatureColumn
from mlops.artifacts.scoring import proba_column
from mlops.config import DatasetConfig
from mlops.errors import MLOpsError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

#: Values of a text column that mean "missing" rather than "bad number".
MISSING_TEXT = frozenset({"", "nan", "null", "none", "na", "n/a"})
#: Upper bound of model calls spent isolating rows the model raises on, per chunk.
MAX_BISECT_CALLS = 256
MAX_VALUE_CHARS = 200

#: A bad row: (column, value, reason, reason key for the counts).
BadRow = tuple[str, str, str, str]


def positive_column(cfg: DatasetConfig, model: Any) -> int | None:
    """The ``predict_proba`` column of the positive class, or ``None`` without probabilities
    or for a multiclass model (which has no positive class).

    Raises
    ------
    ConfigError
        The config's ``positive_class`` is not one of the model's ``classes_``.
    """
    if not cfg.is_classifier or not hasattr(model, "predict_proba") or metrics.is_multiclass(model.classes_):
        return None
    return metrics.positive_index(cfg, model.classes_)


def _is_text(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_number(t: pa.DataType) -> bool:
    import pyarrow as pa

    return any(
        check(t)
        for check in (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    ) or pa.types.is_null(t)


def _parse_text(arr: pa.Array, name: str, bad: dict[int, BadRow]) -> np.ndarray:
    """Numbers parsed from a text column; unparsable non-missing values become bad rows."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pd.Series(pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    missing = text.isna().to_numpy() | text.astype(str).str.strip().str.lower().isin(MISSING_TEXT).to_numpy()
    for i in np.flatnonzero(np.isnan(values) & ~missing):
        value = str(text.iloc[i])
        bad.setdefault(
            int(i),
            (
                name,
                value[:MAX_VALUE_CHARS],
                f"column {name!r}: value {value[:40]!r} is not a number",
                f"column {name!r}: not a number",
            ),
        )
    return values


def numeric_values(arr: pa.Array, name: str, bad: dict[int, BadRow]) -> np.ndarray:
    """A numeric feature as float64; non-numbers and non-finite values are recorded in ``bad``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    if _is_text(arr.type) or not _is_number(arr.type):
        values = _parse_text(arr, name, bad)
    else:
        values = pc.cast(arr, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        if values.dtype != np.float64:
            values = values.astype("float64")
    for i in np.flatnonzero(np.isinf(values)):
        bad.setdefault(
            int(i),
            (
                name,
                str(values[i]),
                f"column {name!r}: value {values[i]} is not finite",
                f"column {name!r}: not finite",
            ),
        )
    return values


def boolean_values(arr: pa.Array, name: str, bad: dict[int, BadRow]) -> np.ndarray:
    """A boolean feature as float64 1.0/0.0 with NaN for nulls (as training sees it); other values are bad rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlops.models import BOOLEAN_TEXT

    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    if pa.types.is_boolean(arr.type) or pa.types.is_null(arr.type):
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    raw = pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False)
    values = np.full(len(raw), np.nan)
    for i, v in enumerate(raw):
        if v is None:
            continue
        parsed = BOOLEAN_TEXT.get(str(v).strip().lower())
        if parsed is None:
            text = str(v)
            bad.setdefault(
                i,
                (
                    name,
                    text[:MAX_VALUE_CHARS],
                    f"column {name!r}: value {text[:40]!r} is not a boolean",
                    f"column {name!r}: not a boolean",
                ),
            )
        else:
            values[i] = parsed
    return values


def categorical_values(arr: pa.Array) -> np.ndarray:
    """A categorical feature as an object array of strings, with NaN for nulls (as training sees it)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if arr.type != pa.string() and arr.type != pa.large_string():
        arr = pc.cast(arr, pa.string())
    values = arr.to_numpy(zero_copy_only=False)
    if arr.null_count:
        values = values.copy() if not values.flags.writeable else values
        values[arr.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return values


class ChunkScorer:
    """Coerce one chunk to the model's feature types, score it, and split scored rows from rejects.

    Call :meth:`bind` with the id column's Arrow type before :meth:`score`.
    """

    def __init__(
        self, model: Any, cfg: DatasetConfig, features: list[FeatureColumn], model_version: str, run_id: str
    ):
        import numpy as np
        import pyarrow as pa

        self.model = model
        self.id_column = cfg.id_column
        self.features = list(features)
        self.model_version = model_version
        self.run_id = run_id
        self.classifier = cfg.is_classifier
        self.positive = positive_column(cfg, model)
        self.classes = np.asarray(model.classes_) if self.classifier else None
        #: A multiclass model writes every class's probability (``proba_<class>``), not ``probability``.
        self.multiclass = self.classifier and metrics.is_multiclass(self.classes)
        if self.classifier:
            kind = self.classes.dtype.kind
            self.pred_type = pa.from_numpy_dtype(self.classes.dtype) if kind in "biuf" else pa.string()
        else:
            self.pred_type = pa.float64()
        self.out_schema: pa.Schema | None = None
        self.rejects_schema: pa.Schema | None = None

    def bind(self, id_type: pa.DataType) -> tuple[pa.Schema, pa.Schema]:
        """The schemas of the predictions part and of the rejects file for this id type."""
        import pyarrow as pa

        fields = [pa.field(self.id_column, id_type), pa.field("prediction", self.pred_type)]
        if self.multiclass:
            fields += [pa.field(proba_column(c), pa.float64()) for c in self.classes.tolist()]
        elif self.classifier:
            fields.append(pa.field("probability", pa.float64()))
        stamp = [pa.field("model_version", pa.string()), pa.field("run_id", pa.string())]
        self.out_schema = pa.schema(fields + stamp)
        self.rejects_schema = pa.schema(
            [
                pa.field(self.id_column, id_type),
                pa.field("row", pa.int64()),
                pa.field("column", pa.string()),
                pa.field("value", pa.string()),
                pa.field("reason", pa.string()),
                *stamp,
            ]
        )
        return self.out_schema, self.rejects_schema

    # -- coercion
    def frame(self, table: pa.Table) -> tuple[pd.DataFrame, dict[int, BadRow]]:
        """The model input for ``table`` (float64 numerics, object categoricals with NaN) and the bad rows."""
        import numpy as np
        import pandas as pd

        n = table.num_rows
        bad: dict[int, BadRow] = {}
        data: dict[str, Any] = {}
        names = set(table.column_names)
        for f in self.features:
            if f.name not in names:
                number = f.kind in ("numeric", "boolean")
                absent = np.full(n, np.nan, dtype="float64" if number else object)
                data[f.name] = absent if number else pd.Series(absent, dtype=object)
                continue
            arr = table.column(f.name).combine_chunks()
            if f.kind == "numeric":
                data[f.name] = numeric_values(arr, f.name, bad)
            elif f.kind == "boolean":
                data[f.name] = boolean_values(arr, f.name, bad)
            else:
                data[f.name] = pd.Series(categorical_values(arr), dtype=object, copy=False)
        ids = table.column(self.id_column)
        if ids.null_count:
            for i in np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False)):
                reason = f"id column {self.id_column!r} is null"
                bad.setdefault(int(i), (self.id_column, "", reason, reason))
        return pd.DataFrame(data, copy=False), bad

    # -- prediction
    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """``(prediction, probability)`` for ``X``: the positive class's probability (binary), every
        class's ``(n, k)`` (multiclass), or None (regression)."""
        import numpy as np

        if self.multiclass:
            proba = np.asarray(self.model.predict_proba(X), dtype="float64")
            return self.classes[np.argmax(proba, axis=1)], proba
        if self.positive is not None:
            proba = np.asarray(self.model.predict_proba(X))
            return self.classes[np.argmax(proba, axis=1)], proba[:, self.positive].astype("float64")
        return np.asarray(self.model.predict(X)), None

    def _empty(self) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        pred = np.asarray([], dtype=self.classes.dtype if self.classifier else "float64")
        if self.multiclass:
            return pred, np.zeros((0, len(self.classes)), dtype="float64")
        return pred, (np.asarray([], dtype="float64") if self.positive is not None else None)

    def predict_isolating(
        self, X: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[int, str]]:
        """``(rows scored, prediction, probability, {row: reason})``: bisects to the rows the model raises on.

        Raises
        ------
        MLOpsError
            The model raises on so many rows that isolating them takes over ``MAX_BISECT_CALLS`` calls.
        """
        import numpy as np

        if len(X) == 0:
            return (np.arange(0), *self._empty(), {})
        try:
            return (np.arange(len(X)), *self.predict(X), {})
        except Exception as err:  # the model's own error on this chunk; isolate the rows
            return self._bisect(X, err)

    def _bisect(
        self, X: pd.DataFrame, first: Exception
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[int, str]]:
        import numpy as np

        calls = [0]
        ok: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        failed: dict[int, str] = {}

        def visit(lo: int, hi: int) -> None:
            calls[0] += 1
            if calls[0] > MAX_BISECT_CALLS:
                raise MLOpsError(
                    f"The model raises on most rows of a {len(X)}-row chunk ({type(first).__name__}: {first}); "
                    "this is not a few bad rows. Check the model's expected inputs against the batch."
                ) from first
            try:
                ok.append((np.arange(lo, hi), *self.predict(X.iloc[lo:hi])))
            except Exception as row_err:
                if hi - lo == 1:
                    failed[lo] = (
                        f"model could not score the row: {type(row_err).__name__}: {str(row_err)[:160]}"
                    )
                    return
                mid = (lo + hi) // 2
                visit(lo, mid)
                visit(mid, hi)

        visit(0, len(X))
        if not ok:
            return (np.arange(0), *self._empty(), failed)
        with_proba = self.positive is not None or self.multiclass
        prob = np.concatenate([q for _, _, q in ok]) if with_proba else None
        return np.concatenate([i for i, _, _ in ok]), np.concatenate([p for _, p, _ in ok]), prob, failed

    # -- output tables
    def _scored_table(
        self, ids: pa.ChunkedArray, rows: np.ndarray, pred: np.ndarray, prob: np.ndarray | None
    ) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        m = len(rows)
        out_ids = ids if m == len(ids) else ids.take(pa.array(rows, type=pa.int64()))
        if self.pred_type == pa.string():
            pred_arr = pa.array(np.asarray(pred).astype(str), type=pa.string())
        else:
            pred_arr = pa.array(np.asarray(pred), type=self.pred_type)
        cols = [out_ids, pred_arr]
        if self.multiclass:
            cols += [pa.array(prob[:, i], type=pa.float64()) for i in range(len(self.classes))]
        elif self.classifier:
            cols.append(pa.array(prob, type=pa.float64()) if prob is not None else pa.nulls(m, pa.float64()))
        cols += [pa.repeat(pa.scalar(self.model_version), m), pa.repeat(pa.scalar(self.run_id), m)]
        return pa.Table.from_arrays(cols, schema=self.out_schema)

    def _rejects_table(
        self, ids: pa.ChunkedArray, bad: dict[int, BadRow], first_row: int
    ) -> tuple[pa.Table, Counter]:
        import numpy as np
        import pyarrow as pa

        reasons: Counter = Counter()
        rows = sorted(bad)
        if not rows:
            return self.rejects_schema.empty_table(), reasons
        for r in rows:
            reasons[bad[r][3]] += 1
        k = len(rows)
        table = pa.Table.from_arrays(
            [
                ids.take(pa.array(rows, type=pa.int64())),
                pa.array(np.asarray(rows, dtype="int64") + first_row, type=pa.int64()),
                pa.array([bad[r][0] or None for r in rows], type=pa.string()),
                pa.array([bad[r][1] if bad[r][1] != "" else None for r in rows], type=pa.string()),
                pa.array([bad[r][2] for r in rows], type=pa.string()),
                pa.repeat(pa.scalar(self.model_version), k),
                pa.repeat(pa.scalar(self.run_id), k),
            ],
            schema=self.rejects_schema,
        )
        return table, reasons

    def score(self, table: pa.Table, first_row: int) -> tuple[pa.Table, pa.Table, Counter]:
        """``(scored rows, rejected rows, reject reasons)`` for one chunk starting at input row ``first_row``."""
        import numpy as np

        X, bad = self.frame(table)
        keep = np.ones(table.num_rows, dtype=bool)
        if bad:
            keep[list(bad)] = False
            X = X.iloc[np.flatnonzero(keep)]
        kept = np.flatnonzero(keep)
        idx, pred, prob, failed = self.predict_isolating(X)
        for local, reason in failed.items():
            what, _, detail = reason.partition(":")
            bad[int(kept[local])] = ("", "", reason, f"{what}: {detail.split(':')[0].strip()}")
        ids = table.column(self.id_column)
        scored = self._scored_table(ids, kept[idx], pred, prob)
        rejects, reasons = self._rejects_table(ids, bad, first_row)
        return scored, rejects, reasons
