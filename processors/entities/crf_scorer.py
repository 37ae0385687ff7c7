"""Exact CRF inference for the ``crf`` backend, fast where CRFsuite's tagger is slow for us.

CRFsuite's ``Tagger.tag`` takes every feature as a string: at ~25 features a token, turning
them into C++ strings and looking each up cost ~40 ms an article, more than all of the rules
backend. A linear-chain CRF's score is a sum of weights, so this module reads the trained
weights once (from CRFsuite's own dump) and adds them up from vectors cached per word type
(see ``crf_features``): a token then costs a dict lookup and a few numpy row additions.
Viterbi runs over all of an article's sentences at once (one numpy step per position of the
longest sentence). Tests check that the labels equal CRFsuite's own tagger's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import pycrfsuite

from processors.entities.crf_features import (
    Occurrences,
    WordKey,
    sport_features,
    sport_tokens,
    word_type_features,
)

MAX_CACHED_ROWS = 200_000
_CONTEXT_PREFIXES = {"-1": 1, "+1": 2, "-2": 3, "+2": 4}
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class CrfWeights:
    labels: list[str]
    attrs: dict[str, int]
    state: np.ndarray  # (attributes, labels)
    trans: np.ndarray  # (from label, to label)


def _sections(dump: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in dump.splitlines():
        if line.endswith(" = {"):
            current = out.setdefault(line[: -len(" = {")], [])
        elif line == "}":
            current = None
        elif current is not None:
            current.append(line.strip())
    return out


def _weighted(lines: Iterable[str]) -> Iterable[tuple[str, str, float]]:
    """``(n) source --> label: weight`` lines."""
    for line in lines:
        body = line.split(") ", 1)[1]
        left, weight = body.rsplit(": ", 1)
        source, label = left.split(" --> ")
        yield source, label, float(weight)


def load_weights(model: bytes) -> CrfWeights:
    """The weights of a CRFsuite model, via the tagger's text dump."""
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.txt"
        tagger.dump(str(path))
        sections = _sections(path.read_text("utf-8"))
    labels = [line.split(": ", 1)[1] for line in sections["LABELS"]]
    label_at = {name: k for k, name in enumerate(labels)}
    attrs = {line.split(": ", 1)[1]: int(line.split(":", 1)[0]) for line in sections["ATTRIBUTES"]}
    state = np.zeros((len(attrs), len(labels)))
    for attr, label, weight in _weighted(sections.get("STATE_FEATURES", [])):
        state[attrs[attr], label_at[label]] = weight
    trans = np.zeros((len(labels), len(labels)))
    for source, label, weight in _weighted(sections.get("TRANSITIONS", [])):
        trans[label_at[source], label_at[label]] = weight
    return CrfWeights(labels, attrs, state, trans)


class _Rows(Generic[K]):
    """Weight vectors computed once per key and kept as rows of one matrix, so that a
    document's come out in one fancy index; a document's new keys are computed together
    (``make`` takes a list of keys and returns one (width, labels) block per key). Bounded: a
    long stream keeps meeting new words."""

    def __init__(
        self, width: int, n_labels: int, make: Callable[[list[K]], np.ndarray]
    ) -> None:
        self.rows: dict[K, int] = {}
        self.matrix = np.zeros((256, width, n_labels))
        self.make = make

    def of(self, keys: list[K]) -> np.ndarray:
        if len(self.rows) + len(keys) > MAX_CACHED_ROWS:
            self.rows.clear()  # before, not during: rows handed out below must stay valid
        get = self.rows.get
        found = [get(k, -1) for k in keys]  # one hash of each key when all are known
        if -1 in found:
            self._add(list(dict.fromkeys(k for k, r in zip(keys, found, strict=True) if r < 0)))
            found = [get(k, -1) for k in keys]
        return self.matrix[found]

    def _add(self, keys: list[K]) -> None:
        first = len(self.rows)
        end = first + len(keys)
        if end > len(self.matrix):
            grown = np.zeros((max(2 * len(self.matrix), end), *self.matrix.shape[1:]))
            grown[:first] = self.matrix[:first]
            self.matrix = grown
        self.matrix[first:end] = self.make(keys)
        self.rows.update(zip(keys, range(first, end), strict=True))


class CrfScorer:
    def __init__(self, weights: CrfWeights) -> None:
        self.weights = weights
        self.labels = weights.labels
        self.n_labels = len(weights.labels)
        self.outside = weights.labels.index("O")
        # the state weights with a zero row after them: every group of ``sums`` starts with
        # it, so that no group is empty (``reduceat`` needs that) and nothing changes the sums
        self._state = np.vstack([weights.state, np.zeros((1, self.n_labels))])
        self._zero = len(weights.state)
        # word type -> (own + core, core as the word before, as the word after, at -2, at +2)
        self._slots = self._context_slots()
        self._types = _Rows[WordKey](5, self.n_labels, self._type_vectors)
        self._rules = _Rows[str](3, self.n_labels, self._rule_vectors)
        self._extras = _Rows[tuple[str, ...]](1, self.n_labels, self._extra_vectors)
        self._sport = _Rows[tuple[str, str]](1, self.n_labels, self._sport_vectors)
        self._fixed = {name: self.vector([name]) for name in ("bias", "gapL", "gapR", "BOS", "EOS")}
        self._left = self._prefixed("w-1|w=")
        self._right = self._prefixed("w|w+1=")

    def vector(self, features: Iterable[str]) -> np.ndarray:
        """Sum of the state weights of the features the model knows."""
        return self.sums([list(features)])[0]

    def sums(self, groups: list[list[str]]) -> np.ndarray:
        """(groups, labels): the sum of the state weights of each group's known features,
        all groups in one gather and one segmented sum."""
        attrs = self.weights.attrs
        rows: list[int] = []
        starts: list[int] = []
        for features in groups:
            starts.append(len(rows))
            rows.append(self._zero)
            rows.extend(r for f in features if (r := attrs.get(f)) is not None)
        return np.add.reduceat(self._state[rows], starts, axis=0)

    def _prefixed(self, prefix: str) -> dict[str, np.ndarray]:
        cut = len(prefix)
        return {
            a[cut:]: self.weights.state[row]
            for a, row in self.weights.attrs.items()
            if a.startswith(prefix)
        }

    def _context_slots(self) -> dict[str, list[tuple[int, int]]]:
        """Feature -> (slot, attribute row) of each of its forms the model knows: itself (slot
        0), as the word before's (1), the word after's (2), at -2 (3) and at +2 (4), as
        ``token_features`` writes them: only core features have context forms, only w=/s=
        ones (a word's first NEIGHBOUR_CORE) at -2/+2, so any form the model knows applies."""
        slots: dict[str, list[tuple[int, int]]] = {}
        for attr, row in self.weights.attrs.items():
            slot = _CONTEXT_PREFIXES.get(attr[:2], 0)
            slots.setdefault(attr[2:] if slot else attr, []).append((slot, row))
        return slots

    def _type_vectors(self, keys: list[WordKey]) -> np.ndarray:
        """Per word type: (own + core, core as the word before, as the word after, at -2,
        at +2), from one lookup per feature."""
        slots = self._slots
        targets: list[int] = []
        rows: list[int] = []
        for i, key in enumerate(keys):
            own, core = word_type_features(key)
            for feature in own + core:
                for slot, row in slots.get(feature, ()):
                    targets.append(5 * i + slot)
                    rows.append(row)
        out = np.zeros((5 * len(keys), self.n_labels))
        np.add.at(out, targets, self.weights.state[rows])
        return out.reshape(len(keys), 5, self.n_labels)

    def _rule_vectors(self, labels: list[str]) -> np.ndarray:
        """A rules label as the token's own, as the word before's, as the word after's."""
        groups = [[p + "r=" + label] for label in labels for p in ("", "-1", "+1")]
        return self.sums(groups).reshape(len(labels), 3, self.n_labels)

    def _extra_vectors(self, extras: list[tuple[str, ...]]) -> np.ndarray:
        return self.sums([list(x) for x in extras]).reshape(len(extras), 1, self.n_labels)

    def _sport_vectors(self, keys: list[tuple[str, str]]) -> np.ndarray:
        groups = [sport_features(etype, rule) for etype, rule in keys]
        return self.sums(groups).reshape(len(keys), 1, self.n_labels)

    def emissions(self, occ: Occurrences) -> np.ndarray:
        """(tokens, labels) state scores, the same sums CRFsuite makes from the strings of
        ``token_features`` (context stops at sentence ends)."""
        m = len(occ.keys)
        types = self._types.of(occ.keys)
        rules = self._rules.of(occ.rule)
        first = np.zeros(m, dtype=bool)
        first[[0, *occ.sentence_ends[:-1]]] = True
        last = np.zeros(m, dtype=bool)
        last[np.array(occ.sentence_ends) - 1] = True
        fixed = self._fixed
        e = types[:, 0] + rules[:, 0] + fixed["bias"]
        e[1:] += (types[:-1, 1] + rules[:-1, 1]) * ~first[1:, None]
        e[:-1] += (types[1:, 2] + rules[1:, 2]) * ~last[:-1, None]
        e[2:] += types[:-2, 3] * ~(first[2:] | first[1:-1])[:, None]
        e[:-2] += types[2:, 4] * ~(last[:-2] | last[1:-1])[:, None]
        e[first] += fixed["BOS"]
        e[last] += fixed["EOS"]
        gap = np.array(occ.gap_before)
        e[gap] += fixed["gapL"]
        e[:-1][gap[1:] & ~last[:-1]] += fixed["gapR"]
        with_extra = [k for k, extra in enumerate(occ.extra) if extra]
        if with_extra:
            e[with_extra] += self._extras.of([tuple(occ.extra[k]) for k in with_extra])[:, 0]
        in_sport = [k for k, sport in enumerate(sport_tokens(occ)) if sport]
        if in_sport:
            pairs = [(occ.keys[k][4], occ.rule[k]) for k in in_sport]
            e[in_sport] += self._sport.of(pairs)[:, 0]
        self._add_bigrams(occ.words, first, e)
        return e

    def _add_bigrams(self, words: list[str], first: np.ndarray, e: np.ndarray) -> None:
        pairs = [f"{a}|{b}" for a, b in pairwise(words)]
        left, right = self._left, self._right
        for k in [k for k, p in enumerate(pairs) if p in left or p in right]:
            if first[k + 1]:
                continue  # a sentence starts between them
            p = pairs[k]
            if p in left:
                e[k + 1] += left[p]
            if p in right:
                e[k] += right[p]

    def decode(self, e: np.ndarray, sentence_ends: list[int]) -> list[str]:
        """Best label sequence of each sentence (Viterbi), all sentences stepped together:
        sorted longest first, the sentences still running at a position are a prefix."""
        ends = np.array(sentence_ends)
        starts = np.concatenate([[0], ends[:-1]])
        lengths = ends - starts
        order = np.argsort(-lengths, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        lengths = lengths[order]
        n, longest = len(ends), int(lengths[0])
        sentence = rank[np.repeat(np.arange(n), ends - starts)]
        pos = np.arange(len(e)) - np.repeat(starts, ends - starts)
        padded = np.zeros((longest, n, self.n_labels))
        padded[pos, sentence] = e
        running = (lengths[None, :] > np.arange(longest)[:, None]).sum(axis=1)
        trans = self.weights.trans
        score = padded[0].copy()
        back = np.zeros((longest, n, self.n_labels), dtype=np.intp)
        for t in range(1, longest):
            k = running[t]
            cand = score[:k, :, None] + trans
            back[t, :k] = cand.argmax(axis=1)
            score[:k] = cand.max(axis=1) + padded[t, :k]
        y = score.argmax(axis=1)
        best = np.zeros((longest, n), dtype=np.intp)
        for t in range(longest - 1, 0, -1):
            k = running[t]
            best[t, :k] = y[:k]
            y[:k] = back[t, np.arange(k), y[:k]]
        best[0] = y
        labels = self.labels
        return [labels[k] for k in best[pos, sentence].tolist()]
