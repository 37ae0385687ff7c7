"""newsflow: Arabic-first streaming news ingestion.

Layers, top to bottom (import-linter checks them, see pyproject.toml): entry points
(``newsflow.cli``, the bench, the runner, the local stack), the stations ``ingest`` and
``processors``, and the core ``newsflow.core``."""

from newsflow.core.version import __version__

__all__ = ["__version__"]
