"""The near-duplicate stage's pure parts: stage 1's envelope and stage 2's decision give what
inline enrichment gives, byte for byte apart from the cluster id's place, and the record still
honours the contract; a record that is no envelope gets a reason."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from newsflow.core.contract import EnrichedArticle
from processors.dedup import NearDuplicateIndex
from processors.dedup_stage import decide
from processors.enrich import Enricher
from processors.label_router import LabelRouter
from processors.records import Coordinates, Enriched, process_record
from processors.routing import LabelRouting, routed
from processors.stage_envelope import BadEnvelope, envelope, open_envelope

STORY = (
    "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة جدة بسعة خمسمئة سرير لخدمة "
    "سكان المنطقة الغربية، وقال الوزير في مؤتمر صحفي إن المستشفى سيضم أقساما متخصصة في "
    "أمراض القلب والأورام وطب الأطفال، وإن العمل فيه سيبدأ مطلع الشهر المقبل بعد اكتمال "
    "تجهيزه بأحدث المعدات الطبية وتعيين الكوادر اللازمة من الأطباء والممرضين والفنيين"
)
WHERE = Coordinates("news.raw", 2, 41)


@pytest.fixture(scope="module")
def deferred() -> Enricher:
    return Enricher(defer_dedup=True)


@pytest.fixture(scope="module")
def inline() -> Enricher:
    return Enricher()


def _enriched(enricher: Enricher, url: str, body: str) -> Enriched:
    result = process_record(enricher, None, orjson.dumps({"url": url, "title": "خبر",
                                                          "body": body}), WHERE)
    assert isinstance(result, Enriched)
    return result


def _staged(index: NearDuplicateIndex, result: Enriched) -> bytes:
    return decide(index, open_envelope(envelope(result, WHERE), index.num_perm))


def test_deferred_enrichment_signs_and_leaves_the_cluster_to_the_stage(deferred: Enricher
                                                                       ) -> None:
    result = _enriched(deferred, "https://e.org/a", STORY)
    assert result.article.cluster_id is None and "cluster_id" not in orjson.loads(result.value)
    assert result.signature is not None and result.signature.shape == (128,)
    assert "dedup" in result.article.processing.stages  # the signature's time
    assert len(deferred.dedup) == 0  # stage 1 holds no near-duplicate state


def test_staged_record_equals_the_inline_one_and_keeps_the_contract(
        deferred: Enricher, inline: Enricher) -> None:
    index = NearDuplicateIndex()
    first = _enriched(deferred, "https://e.org/a", STORY)
    copy = _enriched(deferred, "https://e.org/b", STORY.replace("اليوم", "أمس"))
    staged = [_staged(index, r) for r in (first, copy)]
    articles = [EnrichedArticle.model_validate(orjson.loads(v)) for v in staged]
    assert [a.cluster_id for a in articles] == [first.article.id, first.article.id]
    _enriched(inline, "https://e.org/a", STORY)
    direct = orjson.loads(_enriched(inline, "https://e.org/b", STORY.replace("اليوم", "أمس"))
                          .value)
    got = orjson.loads(staged[1])
    for doc in (direct, got):  # the clock and the timings differ between two enrichments
        doc.pop("ingested_at")
        doc["processing"].pop("stages")
    assert got == direct


def test_inline_and_staged_clusters_agree_on_a_mixed_sequence(deferred: Enricher) -> None:
    inline = Enricher()  # a fresh index, like the stage's
    bodies = [STORY, STORY.replace("اليوم", "أمس"), "نص آخر لا علاقة له بالخبر الأول " * 6,
              STORY.replace("جديد", "حديث"), "قصير جدا", "نص آخر لا علاقة له بالخبر الأول " * 6]
    index = NearDuplicateIndex()
    staged, direct = [], []
    for i, body in enumerate(bodies):
        r = _enriched(deferred, f"https://e.org/{i}", body)
        staged.append(orjson.loads(_staged(index, r))["cluster_id"])
        direct.append(_enriched(inline, f"https://e.org/{i}", body).article.cluster_id)
    assert staged == direct
    assert len(set(staged)) == 3  # the story (3 versions), the other text (2), the stub


def test_routing_from_the_envelope_head_equals_routing_from_the_article(deferred: Enricher
                                                                        ) -> None:
    result = _enriched(deferred, "https://e.org/sport", "فاز فريق النصر على الهلال في مباراة "
                       "الدوري السعودي لكرة القدم وسجل المهاجم هدفين في الشوط الثاني " * 3)
    env = open_envelope(envelope(result, WHERE), 128)
    assert env.article == routed(result.article) and env.article.labels
    assert env.source == ("news.raw", 2, 41)
    value = decide(NearDuplicateIndex(), env)

    def records(article: object) -> list[tuple[str, bytes, bytes]]:
        router = LabelRouter(LabelRouting("news.topic.", None), lambda ids: {})
        return asyncio.run(router.records([article], [value]))[0]  # type: ignore[list-item]

    assert records(env.article) == records(result.article) != []


@pytest.mark.parametrize("value, reason", [
    (None, "not a near-duplicate stage envelope"),
    (b'{"url": "https://e.org/raw-article"}', "not a near-duplicate stage envelope"),
    (b'{"v": 7}\n{"id": "x"}', "envelope version 7"),
    (b'[1]\n{"id": "x"}', "envelope version None"),
    (b'{"v": 1, "id": "x"}\n{"id": "x"}', "KeyError"),
    (b'{"v": 1, "id": "x", "url": "u", "labels": [], "ts": 1.0, "sig": [-1]}\n{"id": "x"}',
     "envelope head"),
    (b'{"v": 1, "id": "x", "url": "u", "labels": [], "ts": 1.0, "sig": [1, 2],'
     b' "src": ["r", 0, 1]}\n{"id": "x"}',
     "other dedup settings"),
])
def test_a_record_that_is_no_envelope_is_refused_with_its_reason(value: bytes | None,
                                                                 reason: str) -> None:
    with pytest.raises(BadEnvelope, match=reason):
        open_envelope(value, 128)


def test_a_refused_record_without_raw_coordinates_keeps_what_the_stage_read() -> None:
    """The read-back of news.raw (processors.raw_lookup, covered on a real broker by
    tests/integration/test_reliability.py) is only tried with coordinates to read."""
    from newsflow.core.settings import Settings
    from processors.dedup_stage import raw_original
    from processors.delivery import Output

    original = raw_original(Settings())
    no_coords = b'{"v": 1, "src": [null, null, null]}\n{"id": "x"}'
    for raw in (b"not an envelope", no_coords):
        out = Output(None, b"k", b"v", raw, ("stage", 0, 9))
        assert asyncio.run(original(out)) == (raw, ("stage", 0, 9))
