"""What a subscriber asked for (pure): label/entity/source/language filters, which topics to
read, and the resume token (``topic@partition:offset,...``) used by the HTTP stream.

Entity names match in any written form: the name asked for is folded by the one fold
(``newsflow.core.arabic.fold_text``: alef variants, ى/ي, ة/ه, diacritics, tatweel), which also
folded the canonical names, and its leading clitics are tried off (وبوتين, لبوتين, ببوتين ->
بوتين); it matches an article when its words appear, in order, among the words of one of the
article's canonical entity names (so بوتين matches فلاديمير بوتين).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from newsflow.core.arabic import fold_text, without_proclitics, words
from newsflow.core.contract import EnrichedArticle, LabelRetraction
from newsflow.core.settings import Settings

Item = EnrichedArticle | LabelRetraction
Positions = dict[tuple[str, int], int]


def _contains_run(words: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(words[i : i + n] == run for i in range(len(words) - n + 1))


class EntityMatcher:
    """Matches an article naming ``name`` however either side spelled it."""

    def __init__(self, name: str) -> None:
        asked = words(fold_text(name))
        if not asked:
            raise ValueError(f"entity name {name!r} has no letters to match")
        self.name = name
        # The first word may carry a clitic (و/ف + ب/ل/ك); later words are names' own words.
        self.forms = [[first, *asked[1:]] for first in dict.fromkeys(
            [asked[0], *without_proclitics(asked[0])])]

    def matches(self, article: EnrichedArticle) -> bool:
        for entity in article.entities:
            canonical = words(fold_text(entity.canonical))
            if any(_contains_run(canonical, form) for form in self.forms):
                return True
        return False


@dataclass(frozen=True)
class SubscriptionFilter:
    """Labels: any of them; sources, languages: any of them; entity: must be named. An empty
    field does not filter."""

    labels: frozenset[str] = frozenset()
    entity: str | None = None
    sources: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    _matcher: EntityMatcher | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, labels: Iterable[str] = (), entity: str | None = None,
              sources: Iterable[str] = (), languages: Iterable[str] = ()) -> SubscriptionFilter:
        entity = entity.strip() if entity else None
        return cls(frozenset(labels), entity or None, frozenset(sources), frozenset(languages),
                   EntityMatcher(entity) if entity else None)

    @property
    def labels_only(self) -> bool:
        """Only labels asked: the per-label topics already hold exactly what is wanted."""
        return bool(self.labels) and not (self.entity or self.sources or self.languages)

    def topics(self, settings: Settings) -> list[str]:
        if self.labels_only:
            return [f"{settings.topic_label_prefix}{label}" for label in sorted(self.labels)]
        return [settings.topic_enriched]

    def matches(self, item: Item) -> bool:
        if isinstance(item, LabelRetraction):
            # Still carrying another asked-for label: the subscriber keeps the article.
            return not (self.labels & set(item.labels))
        if self.labels and not self.labels & {t.label for t in item.topics}:
            return False
        if self.sources and item.source not in self.sources:
            return False
        if self.languages and item.language not in self.languages:
            return False
        return self._matcher is None or self._matcher.matches(item)


def encode_positions(positions: Positions) -> str:
    """``news.enriched@0:15,1:7,2:9`` -- the next offset to read per partition. Topic names
    cannot contain ``@ : , ;`` (Kafka allows only letters, digits, ``. _ -``)."""
    by_topic: dict[str, list[str]] = {}
    for (topic, partition), offset in sorted(positions.items()):
        by_topic.setdefault(topic, []).append(f"{partition}:{offset}")
    return ";".join(f"{topic}@{','.join(parts)}" for topic, parts in by_topic.items())


def decode_positions(token: str) -> Positions:
    """Inverse of ``encode_positions``; raises ValueError on anything else."""
    out: Positions = {}
    for chunk in filter(None, token.strip().split(";")):
        topic, sep, parts = chunk.partition("@")
        if not sep or not topic:
            raise ValueError(f"bad position token {token!r}")
        for part in parts.split(","):
            partition, sep, offset = part.partition(":")
            if not sep:
                raise ValueError(f"bad position token {token!r}")
            out[(topic, int(partition))] = int(offset)
    return out
