"""Fixtures for operator tests."""

from __future__ import annotations

import logging

import pytest


class OperatorLog:
    """Operator logs (structlog in Airflow 3, %-args rendered) plus the library's stdlib log lines."""

    def __init__(self, entries, caplog):
        self.entries, self.caplog = entries, caplog

    @property
    def text(self) -> str:
        lines = []
        for e in self.entries:
            args = e.get("positional_args")
            lines.append(str(e.get("event")) % tuple(args) if args else str(e.get("event")))
        return "\n".join(lines) + "\n" + self.caplog.text


@pytest.fixture
def oplog(caplog):
    """What an operator logged during the test, as one text (the log is part of the contract)."""
    from structlog.testing import capture_logs

    caplog.set_level(logging.INFO)
    with capture_logs() as entries:
        yield OperatorLog(entries, caplog)
