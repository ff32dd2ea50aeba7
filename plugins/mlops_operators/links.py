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
    #: The operator attribute holding the ``s3://`` URI (set in ``execute``).
    attr: ClassVar[str] = ""

    def get_link(self, operator: Any, *, ti_key) -> str:
        return viewer_url(getattr(operator, self.attr, None))


class DataDocsLink(_ViewerLink):
    """The GX Data Docs page of a validated batch (``<batch>.validation.html``)."""

    name = "Data Docs"
    attr = "data_docs_uri"


class ValidationResultLink(_ViewerLink):
    """The validation result of a batch (``<batch>.validation.json``)."""

    name = "Validation result"
    attr = "validation_result_uri"


class DriftReportLink(_ViewerLink):
    """The night's monitoring report (``monitoring/<dataset>/<day>/report.html``)."""

    name = "Drift report"
    attr = "drift_report_uri"


class ScoringManifestLink(_ViewerLink):
    """The published partition's ``_SUCCESS`` manifest (row counts, checksums, model version)."""

    name = "Scoring manifest"
    attr = "scoring_manifest_uri"


class VersionModelCardLink(_ViewerLink):
    """The model card of the registry version a task used."""

    name = "Model card"
    attr = "model_card_uri"
