"""Extra links that open stored reports in the "ML models" artifact viewer.

The viewer (``plugins/mlops_ui``) serves them through the API server with the
``aws_default`` connection, so the links work with private buckets and carry no
credentials. An operator sets the ``s3://`` URI attribute a link names during
``execute``; the task runner turns it into the link after the task ends. A link whose
attribute was never set (the task failed early) is empty, and the UI hides it.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlparse

from airflow.sdk import BaseOperatorLink

from mlops.tracking.viewer import viewer_path


def viewer_url(uri: str | None) -> str:
    """The viewer path of ``uri`` under the API server's base path (``[api] base_url``); ``""`` if none."""
    if not uri:
        return ""
    from airflow.sdk.configuration import conf

    base = urlparse(conf.get("api", "base_url", fallback="") or "").path
    return viewer_path(str(uri), base)


class _ViewerLink(BaseOperatorLink):
    """Opens the ``s3://`` URI held by an operator attribute in the viewer.

    A subclass names its button and the attribute in its class line, e.g.
    ``class DataDocsLink(_ViewerLink, name="Data Docs", attr="data_docs_uri")``. Each link stays a
    module-level class of its own: Airflow stores a link's URL in the XCom ``_link_<class name>``
    and serializes an operator's links as ``{name: xcom_key}``, so renaming a class orphans the
    links of past runs.
    """

    #: The button's label in the task's UI.
    name: ClassVar[str] = ""
    #: The operator attribute holding the ``s3://`` URI (set in ``execute``).
    attr: ClassVar[str] = ""

    def __init_subclass__(cls, *, name: str, attr: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.attr = name, attr

    def get_link(self, operator: Any, *, ti_key) -> str:
        return viewer_url(getattr(operator, self.attr, None))


class DataDocsLink(_ViewerLink, name="Data Docs", attr="data_docs_uri"):
    """The GX Data Docs page of a validated batch (``<batch>.validation.html``)."""


class ValidationResultLink(_ViewerLink, name="Validation result", attr="validation_result_uri"):
    """The validation result of a batch (``<batch>.validation.json``)."""


class DriftReportLink(_ViewerLink, name="Drift report", attr="drift_report_uri"):
    """The night's monitoring report (``monitoring/<dataset>/<day>/report.html``)."""


class ScoringManifestLink(_ViewerLink, name="Scoring manifest", attr="scoring_manifest_uri"):
    """The published partition's ``_SUCCESS`` manifest (row counts, checksums, model version)."""


class VersionModelCardLink(_ViewerLink, name="Model card", attr="model_card_uri"):
    """The model card of the registry version a task used."""
