"""The child process of the smoke check: ``python -m mlops.registry.smoke_child <dir>``.

Kept apart from :mod:`mlops.registry.smoke` so that the package import does not load it
before ``runpy`` runs it. See :func:`mlops.registry.smoke.check_in_child`.
"""

import sys
from pathlib import Path

from mlops.registry.smoke import run_child

if __name__ == "__main__":  # pragma: no cover - runs in the child process
    sys.exit(run_child(Path(sys.argv[1])))
