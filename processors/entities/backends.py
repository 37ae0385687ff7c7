"""Choosing a backend: ``rules`` (default), ``crf`` (trained model over the rules' output) or
``camel`` (camel-tools' AraBERT, an optional extra)."""

from __future__ import annotations

import threading
from typing import Protocol

from newsflow.core.contract import Entity

BACKENDS = ("rules", "crf", "camel")


class Extractor(Protocol):
    backend: str

    def extract(self, text: str) -> list[Entity]: ...


_EXTRACTORS: dict[str, Extractor] = {}
_LOCK = threading.Lock()


def get_extractor(backend: str = "rules") -> Extractor:
    """Process-wide extractor for a backend, built on first use."""
    with _LOCK:
        ex = _EXTRACTORS.get(backend)
        if ex is None:
            ex = make_extractor(backend)
            _EXTRACTORS[backend] = ex
        return ex


def make_extractor(backend: str = "rules") -> Extractor:
    """A new extractor (own memory) for a backend: ``rules``, ``crf`` or ``camel``."""
    if backend == "rules":
        from processors.entities.rules import EntityExtractor

        return EntityExtractor()
    if backend == "crf":
        from processors.entities.crf import CrfEntityExtractor

        return CrfEntityExtractor()
    if backend == "camel":
        from processors.entities.camel import CamelEntityExtractor

        return CamelEntityExtractor()
    raise ValueError(f"unknown NER backend {backend!r}: use one of {', '.join(BACKENDS)}")
