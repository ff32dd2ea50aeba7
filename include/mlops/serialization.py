"""Model (de)serialization with skops and a reviewed, pinned list of trusted types.

Models are stored as skops bytes, never pickle. :func:`load_model` first
checks the bytes against the sha256 recorded at publish time, then loads them
with :data:`TRUSTED_TYPES`, a list reviewed by hand and pinned here. The list
the file itself reports (``skops.io.get_untrusted_types``) is used only to name
what is missing in the error message; it is never passed to ``loads``.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterator
from typing import Any

from mlops.errors import IntegrityError

#: Types that skops does not trust by default but that our estimators need.
#: Reviewed with skops 0.16 / scikit-learn 1.9 by dumping each kind of fitted
#: ``Pipeline(ColumnTransformer(SimpleImputer+StandardScaler, SimpleImputer+OneHotEncoder), est)``
#: and calling ``skops.io.get_untrusted_types`` on the bytes:
#:
#: ======================================================  ==============================================
#: estimator                                               untrusted types reported
#: ======================================================  ==============================================
#: LogisticRegression, SGDClassifier, Ridge, ElasticNet,    ``numpy.dtype``
#: DummyClassifier, DummyRegressor
#: HistGradientBoostingClassifier/Regressor                 + ``...hist_gradient_boosting.predictor.TreePredictor``
#: RandomForestClassifier/Regressor                         + ``sklearn.tree._tree.Tree``
#: Voting/Stacking Classifier/Regressor (with forests)      + ``sklearn.tree._tree.Tree``, ``sklearn.utils._bunch.Bunch``
#: ======================================================  ==============================================
#:
#: The preprocessing steps (SimpleImputer, StandardScaler, OneHotEncoder,
#: ColumnTransformer, Pipeline) are trusted by skops itself. Deliberately NOT on the list:
#: ``functools.partial`` and ``sklearn.utils.validation.check_array`` (reported for an
#: OrdinalEncoder + categorical HistGradientBoosting pipeline: callables are code),
#: CalibratedClassifierCV internals and search objects (store ``best_estimator_`` instead).
#: Adding a type is a code change that goes through review.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the FutureWarnings skops triggers inside an Airflow process.

    skops finds module-less objects (scipy ufuncs) by probing every loaded module; in an
    Airflow worker that touches Airflow's deprecated-import shims, which would print about
    a thousand ``DeprecatedImportWarning`` lines into the task log.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _skops_io():
    with _quiet():
        import skops.io as sio
    return sio


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def dump_model(model: Any) -> bytes:
    """Serialize a fitted estimator with skops.

    Raises
    ------
    IntegrityError
        If the model needs a type that is not on :data:`TRUSTED_TYPES`: it could
        be saved but never loaded, so it is refused at save time.
    """
    sio = _skops_io()
    with _quiet():
        data = sio.dumps(model)
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if untrusted:
        raise IntegrityError(
            f"Model {type(model).__name__} needs types that are not on the reviewed trusted list: {untrusted}. "
            "Use a supported estimator, or review these types and add them to TRUSTED_TYPES "
            "in include/mlops/serialization.py."
        )
    return data


def verify_sha256(data: bytes, expected_sha256: str, *, where: str = "<bytes>") -> str:
    """Return the sha256 of ``data`` or raise :class:`IntegrityError` if it is not ``expected_sha256``."""
    if not expected_sha256:
        raise IntegrityError(f"No expected sha256 given for {where}; refusing to load unverified bytes.")
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise IntegrityError(
            f"Checksum mismatch for {where}: sha256 {actual} != manifest {expected_sha256} "
            f"({len(data)} bytes). The artifact was changed after publishing; do not load it. "
            "Re-publish the model or roll back to a verified version."
        )
    return actual


def load_model(data: bytes, *, expected_sha256: str, where: str = "<bytes>") -> Any:
    """Verify ``data`` against ``expected_sha256``, then load it with the pinned trusted types.

    Raises
    ------
    IntegrityError
        If the checksum does not match (nothing is deserialized), the bytes are not
        a skops file, or they contain a type that is not on :data:`TRUSTED_TYPES`.
    """
    verify_sha256(data, expected_sha256, where=where)
    sio = _skops_io()
    untrusted = sorted(set(_untrusted_types(data, where)) - set(TRUSTED_TYPES))
    if untrusted:
        raise IntegrityError(
            f"{where} contains types that are not on the reviewed trusted list: {untrusted}. "
            "Refusing to load. Review them and add them to TRUSTED_TYPES in include/mlops/serialization.py "
            "only if they are safe."
        )
    try:
        with _quiet():
            return sio.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as err:
        raise IntegrityError(f"{where} could not be loaded by skops: {err}") from err


def _untrusted_types(data: bytes, where: str) -> list[str]:
    try:
        with _quiet():
            return list(_skops_io().get_untrusted_types(data=data))
    except Exception as err:
        raise IntegrityError(f"{where} is not a readable skops file: {err}") from err
