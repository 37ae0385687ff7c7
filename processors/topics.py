"""Topic labels from a weighted Arabic lexicon (IPTC Media Topics top level).

Dictionary-based on purpose: every tag is explained by the terms that produced it (evidence),
users can read and extend the taxonomy, and matching a 2k-character article costs tens of
microseconds. One Aho-Corasick automaton holds every term of every label; each raw hit is then
accepted only if the text around it is a clitic prefix and suffix bounded by word edges, so
وبالمباراة and مباراتها match مباراة but محاربة does not match حرب.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ahocorasick

from newsflow.core.arabic import PREFIXES, SUFFIXES, TAA_SUFFIXES, fold_text, strip_marks
from newsflow.core.contract import TopicTag
from newsflow.core.settings import Settings
from processors.taxonomy import BUNDLED_TAXONOMY, Taxonomy, load_taxonomy_file, merge_taxonomies

_MAX_PREFIX = max(map(len, PREFIXES))
_MAX_SUFFIX = max(map(len, SUFFIXES))



# --- matching -------------------------------------------------------------------------------


def _match_key(term: str) -> str:
    """Normalized form the automaton stores. A leading article is removed because the prefix
    check re-admits it together with و/ب/ل/لل; it is kept when too little would remain
    (الله would otherwise become the preposition له)."""
    key = fold_text(term)
    if key.startswith("ال") and len(key.split(" ", 1)[0]) >= 5:
        key = key[2:]
    return key


def _display(term: str) -> str:
    """Evidence shows the term as the taxonomy spells it, without marks or extra spaces."""
    return " ".join(strip_marks(term).split())


@dataclass
class _Entry:
    # (label index, weight, canonical term) for every label listing this key; empty = neutral.
    targets: list[tuple[int, float, str]]
    # The ت-stem of a term ending in ة (حكومت-ها): valid only before a pronoun suffix.
    taa_stem: bool = False


class TopicTagger:
    """Multi-label tagger. ``tag`` is pure and thread-safe once constructed."""

    def __init__(self, taxonomy: Taxonomy, threshold: float = 1.0) -> None:
        self.taxonomy = taxonomy
        self.threshold = threshold
        self.labels = list(taxonomy.labels)
        self._thresholds = {
            name: spec.threshold if spec.threshold is not None else threshold
            for name, spec in taxonomy.labels.items()
        }
        entries: dict[str, _Entry] = {}
        for li, spec in enumerate(taxonomy.labels.values()):
            # الحرب and حرب share a key; counting both would double every mention.
            per_key: dict[str, tuple[float, str]] = {}
            for term, weight in spec.terms.items():
                key = _match_key(term)
                shown = _display(term)
                prev = per_key.get(key)
                if prev is None or weight > prev[0]:
                    per_key[key] = (weight, prev[1] if prev else shown)
            for key, (weight, shown) in per_key.items():
                entries.setdefault(key, _Entry([])).targets.append((li, weight, shown))
        for phrase in taxonomy.neutral:
            entries.setdefault(_match_key(phrase), _Entry([]))
        # Feminine forms: ة-final terms also match their ات plural and their ت-stem. Derived keys
        # never override a term that is listed in its own right.
        derived: dict[str, _Entry] = {}
        for key, entry in entries.items():
            if key.endswith("ه") and len(key) >= 4 and " " not in key:
                derived.setdefault(key[:-1] + "ات", _Entry(entry.targets))
                derived.setdefault(key[:-1] + "ت", _Entry(entry.targets, taa_stem=True))
        for key, entry in derived.items():
            entries.setdefault(key, entry)
        self._automaton = ahocorasick.Automaton()
        for key, entry in entries.items():
            self._automaton.add_word(key, (len(key), entry))
        self._automaton.make_automaton()

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicTagger:
        base = load_taxonomy_file(settings.topics_file or BUNDLED_TAXONOMY)
        extra = (
            load_taxonomy_file(settings.topics_extra_file) if settings.topics_extra_file else None
        )
        return cls(merge_taxonomies(base, extra), threshold=settings.topic_threshold)

    @classmethod
    def bundled(cls, threshold: float = 1.0) -> TopicTagger:
        return cls(merge_taxonomies(load_taxonomy_file(BUNDLED_TAXONOMY)), threshold=threshold)

    # A hit is valid when the characters between the word start and the hit form a proclitic
    # and those between the hit and the word end form an enclitic. This loop runs ~60 times per
    # article, so the common case (a space on both sides) is tested first and inline.
    def _matches(self, text: str) -> list[tuple[int, int, _Entry]]:
        n = len(text)
        found: list[tuple[int, int, _Entry]] = []
        prefixes, suffixes, taa_suffixes = PREFIXES, SUFFIXES, TAA_SUFFIXES
        for end, (length, entry) in self._automaton.iter(text):
            start = end - length + 1
            i = start
            if start > 0 and text[start - 1].isalnum():
                i -= 1
                while i > 0 and text[i - 1].isalnum() and start - i <= _MAX_PREFIX:
                    i -= 1
                if text[i:start] not in prefixes or (i > 0 and text[i - 1].isalnum()):
                    continue
            j = end + 1
            if j < n and text[j].isalnum():
                j += 1
                while j < n and text[j].isalnum() and j - end <= _MAX_SUFFIX:
                    j += 1
                if j < n and text[j].isalnum():
                    continue
                if text[end + 1 : j] not in (taa_suffixes if entry.taa_stem else suffixes):
                    continue
            elif entry.taa_stem:
                continue
            found.append((i, j, entry))
        if len(found) < 2:
            return found
        # A term inside a longer matched phrase (القدم in كرة القدم, عاصفة in عاصفة الحزم) is
        # part of that phrase, not a mention of its own.
        found.sort(key=lambda m: (m[0], -m[1]))
        kept: list[tuple[int, int, _Entry]] = []
        reach = -1
        for m in found:
            if m[1] > reach:
                kept.append(m)
                reach = m[1]
        return kept

    def _accumulate(self, text: str, counts: dict[tuple[int, str], list[float]], slot: int) -> None:
        for _s, _e, entry in self._matches(text):
            for li, weight, canonical in entry.targets:
                rec = counts.setdefault((li, canonical), [weight, 0.0, 0.0])
                rec[slot] += 1

    def scores(self, title: str, text_normalized: str) -> dict[str, tuple[float, list[str]]]:
        """Every label with a positive score and its evidence, before thresholds."""
        # Both come folded (``fold_text``), as the enricher has them: folding again would cost
        # more than the matching itself.
        body, head = text_normalized, title
        counts: dict[tuple[int, str], list[float]] = {}  # -> [weight, body hits, title hits]
        self._accumulate(body, counts, 1)
        if head:
            self._accumulate(head, counts, 2)
        if not counts:
            return {}
        sc = self.taxonomy.scoring
        n_words = body.count(" ") + 1 if body else 0
        # Long articles mention many things in passing; a square-root length penalty keeps a
        # single weak mention in a long article below threshold without starving short items.
        length_norm = math.sqrt(max(1.0, n_words / sc.reference_words))
        title_boost = sc.title_boost * (sc.title_only_boost if not body.strip() else 1.0)
        per_label: dict[int, list[tuple[float, str]]] = {}
        for (li, canonical), (weight, body_hits, title_hits) in counts.items():
            # Diminishing returns: the tenth repetition of a term says little more than the third.
            contrib = weight * (1 + math.log(body_hits)) / length_norm if body_hits else 0.0
            if title_hits:
                contrib += weight * title_boost
            per_label.setdefault(li, []).append((contrib, canonical))
        out: dict[str, tuple[float, list[str]]] = {}
        for li, items in per_label.items():
            items.sort(key=lambda x: (-x[0], x[1]))
            total = sum(c for c, _ in items) / sc.unit
            out[self.labels[li]] = (total, [t for _, t in items[: sc.max_evidence]])
        return out

    def tag(self, title: str, text_normalized: str) -> list[TopicTag]:
        raw = self.scores(title, text_normalized)
        if not raw:
            return []
        sc = self.taxonomy.scoring
        best = max(s for s, _ in raw.values())
        chosen = [
            (label, s, ev)
            for label, (s, ev) in raw.items()
            if s >= self._thresholds[label] and s >= sc.min_relative * best
        ]
        chosen.sort(key=lambda x: (-x[1], x[0]))
        return [
            TopicTag(label=label, score=round(s, 3), evidence=ev)
            for label, s, ev in chosen[: sc.max_labels]
        ]
