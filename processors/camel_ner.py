"""Backend ``camel``: camel-tools' AraBERT NERecognizer, for users who installed its data.

Importing ``camel_tools.ner`` loads the camel-tools data catalogue at import time and tries to
download it when missing (it hangs or fails offline), and it imports torch. So this module
checks for the data directory first and imports camel-tools only after that check passes.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from newsflow.core.arabic import fold_text, strip_article_clitics
from newsflow.core.contract import Entity

INSTALL_HINT = (
    "install it with:  pip install 'newsflow[camel-ner]'  &&  camel_data -i ner  "
    "(about 540 MB; set CAMELTOOLS_DATA to use a non-default location)"
)


class CamelDataMissing(RuntimeError):
    """camel-tools, torch/transformers or the NER model data are not installed."""


def camel_data_dir() -> Path:
    """Where camel-tools looks for its data: ``$CAMELTOOLS_DATA`` or ``~/.camel_tools``."""
    env = os.environ.get("CAMELTOOLS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".camel_tools"


def ner_model_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or camel_data_dir()) / "data" / "ner" / "arabert"


def camel_ner_problem() -> str | None:
    """Why the camel backend cannot run here, or None when it can (checked without importing
    camel-tools, torch or transformers)."""
    missing = [
        mod for mod in ("camel_tools", "torch", "transformers") if not _module_available(mod)
    ]
    if missing:
        return f"camel NER backend needs {', '.join(missing)}: {INSTALL_HINT}"
    model = ner_model_dir()
    if not model.is_dir() or not any(model.iterdir()):
        return f"camel-tools NER data not found at {model}: {INSTALL_HINT}"
    return None


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def bio_to_char_spans(
    tokens: list[str], labels: list[str], text: str
) -> list[tuple[str, int, int]]:
    """Entity (type, start, end) character spans from token labels; tokens are located in
    ``text`` left to right, so spans index the original text exactly."""
    spans: list[tuple[str, int, int]] = []
    pos = 0
    current: list[Any] | None = None
    for tok, label in zip(tokens, labels, strict=True):
        at = text.find(tok, pos)
        if at < 0:  # tokenizer changed the token; keep scanning without it
            current = None
            continue
        start, end = at, at + len(tok)
        pos = end
        prefix, _, etype = label.partition("-")
        if prefix == "I" and current is not None and current[0] == etype:
            current[2] = end
            continue
        if current is not None:
            spans.append((current[0], current[1], current[2]))
            current = None
        if prefix in ("B", "I"):
            current = [etype, start, end]
    if current is not None:
        spans.append((current[0], current[1], current[2]))
    return spans


class CamelEntityExtractor:
    """Same interface as the rules extractor; evidence is ``model``."""

    backend = "camel"

    def __init__(self) -> None:
        problem = camel_ner_problem()
        if problem:
            raise CamelDataMissing(problem)
        self._lock = threading.Lock()
        # Deferred on purpose: see the module docstring.
        from camel_tools.ner import NERecognizer
        from camel_tools.tokenizers.word import simple_word_tokenize

        self._tokenize = simple_word_tokenize
        self._model = NERecognizer(str(ner_model_dir()), use_gpu=False)

    def extract(self, text: str) -> list[Entity]:
        if not text.strip():
            return []
        tokens: list[str] = self._tokenize(text)
        with self._lock:  # the torch model is not safe to call concurrently
            labels: list[str] = self._model.predict_sentence(tokens)
        out: list[Entity] = []
        for etype, start, end in bio_to_char_spans(tokens, labels, text):
            if etype not in ("PERS", "LOC", "ORG", "MISC"):
                continue
            surface = text[start:end]
            words = fold_text(surface).split()
            if words:
                words[0] = strip_article_clitics(words[0])
            out.append(
                Entity(
                    type=etype,
                    text=surface,
                    canonical=" ".join(words),
                    start=start,
                    end=end,
                    confidence=0.9,
                    evidence="model",
                )
            )
        return out
