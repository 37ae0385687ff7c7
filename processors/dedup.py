"""Near-duplicate clustering: MinHash over word shingles, candidates from banded LSH.

An article whose estimated Jaccard similarity with an indexed article reaches the threshold joins
that article's cluster; the cluster id is the id of the first article seen in the cluster. The
index can be rebuilt from stored texts, so clusters survive a worker restart.

Speed (measured on 3,000 SaudiNewsNet articles, ~2.2k characters each): datasketch's
``MinHash.update`` hashes each shingle with SHA-1 in Python, ~1 µs per shingle; ``update_batch``
with an identity hash function still loops in Python over the shingles (~240 µs per article).
Here each *word* is hashed once with CRC-32 (C code driven by ``map``), shingle hashes are combined
with numpy, and datasketch's own affine32 permutations (the template's ``permutations``) are
applied in one vectorized step; a unit test checks the result equals ``update_batch``. Everything
is deterministic across processes (no use of Python's salted ``hash``), which the rebuild path
relies on.

Memory: datasketch's ``MinHashLSH`` keeps, per article and band, a bytes key in a dict of sets
plus a per-article list of those keys (~3-4 KiB per article with 9 bands: 455 MB of worker RSS on
the whole corpus). Here the state is compact: each band of the signature is reduced to one 64-bit
integer (``band_keys``), one dict maps band key -> slot(s), and the signatures live in one
preallocated uint32 matrix. About ``bytes_per_item`` (~1.5 KiB) per article; the index is bounded
by bytes (``max_bytes``) as well as by count and age, oldest evicted first.
"""

from __future__ import annotations

import json
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from datasketch import MinHash

SCHEME = "affine32"
SEED = 1
MIN_WORDS = 10  # fewer words is a caption or a stub: too little text to call anything a copy
DEFAULT_MAX_BYTES = 96 * 2**20
# Odd 64-bit multipliers for combining consecutive word hashes into one shingle hash; the
# position-dependent factors make "a b c" and "c b a" different shingles.
_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x94D049BB133111EB,
        0xBF58476D1CE4E5B9,
    ],
    dtype=np.uint64,
)
# Per-position multipliers that fold one band (r uint32 values) into a 64-bit key, and a per-band
# offset so equal values in different bands are different keys. Fixed seed: same in every process.
_BAND_MULT = np.random.default_rng(20261201).integers(1, 2**63, size=64, dtype=np.uint64) | 1
_BAND_SALT = np.random.default_rng(20261202).integers(1, 2**63, size=512, dtype=np.uint64)
# Estimated bytes per indexed article beyond its signature: the band dict entries (int key ~36 B,
# dict slot ~40 B, per band), the id -> slot dict entry, the id string, ts and cluster lists.
_BAND_ENTRY_BYTES = 80
_ITEM_OVERHEAD_BYTES = 200


def _identity(x: int) -> int:
    return x


# datasketch's parameters for the default settings, shipped so that the worker need not import
# datasketch: its package imports scipy (for MinHashLSH's band search), +41 MB of RSS and 0.7 s
# of start-up in every worker, for two arrays and two integers. A unit test checks the file
# against datasketch itself; other settings ask datasketch at start-up.
PARAMETERS_FILE = Path(__file__).parent / "data" / "minhash_parameters.json"


@dataclass(frozen=True)
class MinHashParameters:
    a: np.ndarray  # datasketch's affine32 permutations (uint32): h -> a * h + b
    b: np.ndarray
    bands: int  # MinHashLSH's (b, r) for the threshold
    rows: int


def datasketch_parameters(num_perm: int, threshold: float) -> MinHashParameters:
    from datasketch import MinHash, MinHashLSH

    template = MinHash(num_perm=num_perm, seed=SEED, hashfunc=_identity, scheme=SCHEME)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)  # only for its (b, r) choice
    a, b = template.permutations
    return MinHashParameters(np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32),
                             int(lsh.b), int(lsh.r))


def write_parameters_file(num_perm: int, threshold: float, path: Path = PARAMETERS_FILE) -> None:
    """(Re)writes the shipped file from datasketch, for settings that become the defaults."""
    params = datasketch_parameters(num_perm, threshold)
    doc = {"scheme": SCHEME, "seed": SEED, "num_perm": num_perm, "threshold": threshold,
           "a": params.a.tolist(), "b": params.b.tolist(),
           "bands": params.bands, "rows": params.rows}
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")


@lru_cache(maxsize=8)
def minhash_parameters(num_perm: int, threshold: float) -> MinHashParameters:
    doc = json.loads(PARAMETERS_FILE.read_text(encoding="utf-8"))
    if (doc["scheme"], doc["seed"], doc["num_perm"], doc["threshold"]) == (
            SCHEME, SEED, num_perm, threshold):
        return MinHashParameters(np.array(doc["a"], dtype=np.uint32),
                                 np.array(doc["b"], dtype=np.uint32),
                                 int(doc["bands"]), int(doc["rows"]))
    return datasketch_parameters(num_perm, threshold)


def word_bytes(text_normalized: str) -> list[bytes]:
    """The tokens of ``newsflow.core.arabic.words`` as UTF-8 bytes, which MinHash hashes.
    Folded text has only single spaces between words, so a bytes split (C speed) gives exactly
    those tokens; a regex over the str would cost as much as the whole MinHash."""
    return text_normalized.encode("utf-8", "replace").split()


# MurmurHash3 32-bit finalizer, as datasketch applies it before its affine permutations.
_F1, _F2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_S16, _S13 = np.uint32(16), np.uint32(13)


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S16)
    h = h * _F1
    h = h ^ (h >> _S13)
    h = h * _F2
    return h ^ (h >> _S16)


def shingle_hashes(tokens: list[bytes], size: int) -> np.ndarray:
    """32-bit hashes of the word ``size``-grams (a single shingle when the text is shorter)."""
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    th = np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))
    k = min(size, len(tokens))
    n = len(tokens) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    for i in range(k):
        acc += th[i : i + n] * _MULTIPLIERS[i]  # wraps mod 2^64, as intended
    # Fold to 32 bits; the high half carries the best-mixed bits of the products.
    out: np.ndarray = ((acc >> np.uint64(32)) ^ acc).astype(np.uint32)
    return out


class NearDuplicateIndex:
    """``assign`` is the only per-article call; not thread-safe (one per Faust agent).

    Slots are reused: ``_sigs[slot]`` is a signature, ``_ids``/``_clusters``/``_ts`` the
    article in it, ``_order`` the slots oldest first (insertion order, which is time order:
    live articles carry their ingest time and ``rebuild`` sorts by it)."""

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 128,
        max_entries: int = 200_000,
        max_age_days: float = 7.0,
        shingle_size: int = 3,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        if max_entries < 1 or max_age_days <= 0 or not 1 <= shingle_size <= len(_MULTIPLIERS):
            raise ValueError("max_entries and max_age_days must be positive, shingle_size 1..8")
        self.threshold = threshold
        self.num_perm = num_perm
        self.max_age_s = max_age_days * 86400.0
        self.shingle_size = shingle_size
        params = minhash_parameters(num_perm, threshold)
        self._a, self._b = params.a, params.b
        self.bands, self.rows = params.bands, params.rows
        if self.rows > len(_BAND_MULT) or self.bands > len(_BAND_SALT):
            raise ValueError(f"num_perm {num_perm} needs more band constants than are defined")
        self.bytes_per_item = num_perm * 4 + self.bands * _BAND_ENTRY_BYTES + _ITEM_OVERHEAD_BYTES
        if max_bytes < self.bytes_per_item:
            raise ValueError(f"max_bytes must hold at least one article ({self.bytes_per_item})")
        self.max_entries = min(max_entries, max_bytes // self.bytes_per_item)
        self._sigs = np.zeros((min(1024, self.max_entries), num_perm), dtype=np.uint32)
        self._ids: list[str | None] = []
        self._clusters: list[str] = []
        self._ts: list[float] = []
        self._slot_of: dict[str, int] = {}
        self._bucket: dict[int, int | list[int]] = {}  # band key -> slot, or slots
        self._order: deque[int] = deque()
        self._free: list[int] = []
        self._latest_ts = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings) -> NearDuplicateIndex:
        return cls(
            threshold=settings.dedup_threshold,
            num_perm=settings.dedup_num_perm,
            max_entries=settings.dedup_max_entries,
            max_age_days=settings.dedup_max_age_days,
            shingle_size=settings.dedup_shingle_size,
            max_bytes=settings.dedup_max_bytes,
        )

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slot_of

    @property
    def nbytes(self) -> int:
        """Estimated bytes held (what ``max_bytes`` bounds), the signature matrix at its size."""
        return int(self._sigs.nbytes) + len(self) * (self.bytes_per_item - self.num_perm * 4)

    def ids(self) -> list[str]:
        return list(self._slot_of)

    def cluster_of(self, article_id: str) -> str | None:
        slot = self._slot_of.get(article_id)
        return None if slot is None else self._clusters[slot]

    # -- sketches ------------------------------------------------------------------------------

    def signature(self, text_normalized: str) -> np.ndarray | None:
        """The MinHash values of a text (uint32, ``num_perm``), or None when it has too few words
        to be compared."""
        tokens = word_bytes(text_normalized)
        if len(tokens) < MIN_WORDS:
            return None
        sh = _fmix32(shingle_hashes(tokens, self.shingle_size))
        # Same arithmetic as MinHash.update_batch (uint32 wrap-around), without its Python loop;
        # datasketch starts from all-ones values, which any hash is at most.
        sig: np.ndarray = (sh[:, None] * self._a + self._b).min(axis=0)
        return sig.astype(np.uint32)

    def minhash(self, text_normalized: str) -> MinHash | None:
        """The signature as a datasketch ``MinHash`` (for comparisons and tests)."""
        from datasketch import MinHash

        sig = self.signature(text_normalized)
        if sig is None:
            return None
        m = MinHash(num_perm=self.num_perm, seed=SEED, hashfunc=_identity, scheme=SCHEME)
        m.hashvalues = sig.astype(m.hashvalues.dtype)
        return m

    def band_keys(self, sig: np.ndarray) -> list[int]:
        """One 64-bit integer per LSH band: equal keys <=> (almost surely) equal band values."""
        b, r = self.bands, self.rows
        rows = sig[: b * r].reshape(b, r).astype(np.uint64)
        keys = (rows * _BAND_MULT[:r]).sum(axis=1, dtype=np.uint64) + _BAND_SALT[:b]
        return [int(k) for k in (keys >> np.uint64(1))]  # 63 bits: a small Python int

    # -- the per-article call ------------------------------------------------------------------

    def assign(self, article_id: str, text_normalized: str, ts: float) -> str:
        """Cluster id for this article: the first-seen member of its near-duplicate cluster, or
        its own id. A re-sent id keeps the cluster it was given."""
        known = self.cluster_of(article_id)
        if known is not None:
            return known
        return self.assign_signature(article_id, self.signature(text_normalized), ts)

    def assign_signature(self, article_id: str, sig: np.ndarray | None, ts: float) -> str:
        """``assign`` for a signature already computed with ``signature``."""
        known = self.cluster_of(article_id)
        if known is not None:
            return known
        if sig is None:
            return article_id
        keys = self.band_keys(sig)
        cluster_id = self._best_cluster(sig, keys) or article_id
        self._add(article_id, cluster_id, ts, sig, keys)
        self._evict()
        return cluster_id

    def _candidates(self, keys: list[int]) -> set[int]:
        out: set[int] = set()
        for key in keys:
            hit = self._bucket.get(key)
            if hit is None:
                continue
            if isinstance(hit, int):
                out.add(hit)
            else:
                out.update(hit)
        return out

    def _best_cluster(self, sig: np.ndarray, keys: list[int]) -> str | None:
        # LSH candidates include false positives; keep those whose estimated Jaccard really
        # reaches the threshold, and join the most similar (oldest on ties: lowest slot order
        # is not age, so compare insertion ts then id for a deterministic answer).
        slots = sorted(self._candidates(keys))
        if not slots:
            return None
        sims = np.count_nonzero(self._sigs[slots] == sig, axis=1) / self.num_perm
        best: tuple[float, float, str] | None = None
        for slot, sim in zip(slots, sims.tolist(), strict=True):
            if sim >= self.threshold:
                cand = (sim, -self._ts[slot], self._clusters[slot])
                if best is None or cand[:2] > best[:2]:
                    best = cand
        return best[2] if best else None

    def _new_slot(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._ids)
        if slot >= len(self._sigs):
            grown = np.zeros((min(2 * len(self._sigs), self.max_entries + 1), self.num_perm),
                             dtype=np.uint32)
            grown[: len(self._sigs)] = self._sigs
            self._sigs = grown
        self._ids.append(None)
        self._clusters.append("")
        self._ts.append(0.0)
        return slot

    def _add(self, article_id: str, cluster_id: str, ts: float, sig: np.ndarray,
             keys: list[int]) -> None:
        slot = self._new_slot()
        self._sigs[slot] = sig
        self._ids[slot] = article_id
        # The same str object when an article starts its own cluster: no second copy.
        self._clusters[slot] = article_id if cluster_id == article_id else cluster_id
        self._ts[slot] = ts
        self._slot_of[article_id] = slot
        self._order.append(slot)
        bucket = self._bucket
        for key in keys:
            hit = bucket.get(key)
            if hit is None:
                bucket[key] = slot
            elif isinstance(hit, int):
                bucket[key] = [hit, slot]
            else:
                hit.append(slot)
        self._latest_ts = max(self._latest_ts, ts)

    def _remove_oldest(self) -> None:
        slot = self._order.popleft()
        article_id = self._ids[slot]
        if article_id is not None:
            del self._slot_of[article_id]
        bucket = self._bucket
        for key in self.band_keys(self._sigs[slot]):
            hit = bucket.get(key)
            if hit == slot:
                del bucket[key]
            elif isinstance(hit, list):
                hit.remove(slot)
                if len(hit) == 1:
                    bucket[key] = hit[0]
        self._ids[slot] = None
        self._clusters[slot] = ""
        self._free.append(slot)

    def _evict(self) -> None:
        horizon = self._latest_ts - self.max_age_s
        while self._order and (
            len(self._slot_of) > self.max_entries or self._ts[self._order[0]] < horizon
        ):
            self._remove_oldest()

    # -- restart ---------------------------------------------------------------------------

    def rebuild(self, items: Iterable[tuple[str, str | None, str, float]]) -> int:
        """Re-index (id, cluster_id, text_normalized, ts) rows, e.g. recent articles read back
        from Elasticsearch after a restart. Rows are taken oldest first; a row without a cluster
        id is clustered as if it arrived now. Returns how many were indexed."""
        added = 0
        for aid, cluster_id, text, ts in sorted(items, key=lambda r: r[3]):
            if aid in self._slot_of:
                continue
            if cluster_id is None:
                self.assign(aid, text, ts)
                added += aid in self._slot_of
                continue
            sig = self.signature(text)
            if sig is None:
                continue
            self._add(aid, cluster_id, ts, sig, self.band_keys(sig))
            self._evict()
            added += 1
        return added
