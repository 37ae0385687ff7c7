"""Logging set-up for every long-running command: one line per event, to stderr."""

from __future__ import annotations

import logging

from rich.logging import RichHandler


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(show_path=False, rich_tracebacks=True, markup=False)],
        force=True,
    )
    # kafka-python is chatty at INFO about every connection it makes
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
