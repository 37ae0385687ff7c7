"""Smoke check of a running newsflow Elasticsearch node with the official client.

    python deploy/elasticsearch/smoke_check.py [http://127.0.0.1:9200]

Exercises what newsflow relies on: info, composable index template + versioned index + alias, the Arabic
analysis chain (analyzer ``arabic`` and a custom analyzer built from the standard filter names), bulk indexing,
refresh, search with highlight, terms / date_histogram / cardinality aggregations. Cleans up after itself.
Exits non-zero on the first failure.
"""

import json
import sys

from elasticsearch import Elasticsearch, helpers

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9200"
PREFIX = "smoke-nf"


def main() -> None:
    es = Elasticsearch(URL, request_timeout=30)
    info = es.info()
    assert info["version"]["number"].startswith("8."), info
    print("info:", info["version"]["number"], info["cluster_name"])

    tokens = [t["token"] for t in es.indices.analyze(analyzer="arabic", text="الرئيس الروسي فلاديمير بوتين")["tokens"]]
    print("arabic analyzer:", json.dumps(tokens, ensure_ascii=False))
    assert tokens, tokens

    es.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{PREFIX}-template")
    es.indices.put_index_template(
        name=f"{PREFIX}-template",
        index_patterns=[f"{PREFIX}-v*"],
        priority=100,
        template={
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "analysis": {
                    "char_filter": {
                        "ar_map": {"type": "mapping", "mappings": ["ـ => ", "ى => ي", "\\u0629 => \\u0647"]},
                    },
                    "filter": {
                        "ar_stop": {"type": "stop", "stopwords": "_arabic_"},
                        "ar_stop_custom": {"type": "stop", "stopwords": ["قال", "وقال"]},
                        "ar_stemmer": {"type": "stemmer", "language": "arabic"},
                        "en_stemmer": {"type": "stemmer", "language": "light_english"},
                    },
                    "analyzer": {
                        "ar_custom": {
                            "type": "custom",
                            "char_filter": ["html_strip", "ar_map"],
                            "tokenizer": "standard",
                            "filter": ["lowercase", "decimal_digit", "ar_stop", "ar_stop_custom",
                                       "arabic_normalization", "arabic_stem", "asciifolding"],
                        },
                        "ar_stemmer_chain": {
                            "type": "custom",
                            "tokenizer": "whitespace",
                            "filter": ["lowercase", "arabic_normalization", "ar_stemmer", "en_stemmer"],
                        },
                    },
                },
            },
            "mappings": {
                "properties": {
                    "title": {"type": "text", "analyzer": "ar_custom"},
                    "body": {"type": "text", "analyzer": "arabic"},
                    "source": {"type": "keyword"},
                    "published_at": {"type": "date"},
                }
            },
            "aliases": {f"{PREFIX}-read": {}},
        },
    )
    es.indices.create(index=f"{PREFIX}-v1")
    es.indices.put_alias(index=f"{PREFIX}-v1", name=PREFIX)
    assert es.indices.exists_alias(name=PREFIX)
    assert f"{PREFIX}-read" in es.indices.get_alias(index=f"{PREFIX}-v1")[f"{PREFIX}-v1"]["aliases"]

    custom = [t["token"] for t in es.indices.analyze(
        index=f"{PREFIX}-v1", analyzer="ar_custom", text="<b>قال</b> الرئيسى الروسي ١٢٣ في المدينة Café")["tokens"]]
    print("custom analyzer:", json.dumps(custom, ensure_ascii=False))
    assert "123" in custom and "cafe" in custom and "قال" not in custom, custom

    docs = [
        {"title": "الرئيس الروسي فلاديمير بوتين يلتقي نظيره", "body": "قال الرئيس الروسي إن المحادثات كانت مثمرة",
         "source": "aljazeera", "published_at": "2024-05-01T10:00:00Z"},
        {"title": "بوتين يزور الصين", "body": "زيارة رسمية للرئيس الروسي", "source": "bbc-arabic",
         "published_at": "2024-05-02T09:00:00Z"},
        {"title": "أسعار النفط ترتفع", "body": "ارتفعت أسعار النفط اليوم", "source": "aljazeera",
         "published_at": "2024-05-02T12:00:00Z"},
    ]
    ok, errors = helpers.bulk(es, ({"_index": PREFIX, "_id": str(i), "_source": d} for i, d in enumerate(docs)))
    assert ok == len(docs) and not errors, errors
    es.indices.refresh(index=PREFIX)

    res = es.search(
        index=PREFIX,
        query={"match": {"title": "الرؤساء الروس بوتين"}},
        highlight={"fields": {"title": {}}},
        aggs={
            "by_source": {"terms": {"field": "source"}},
            "per_day": {"date_histogram": {"field": "published_at", "calendar_interval": "day"}},
            "sources": {"cardinality": {"field": "source"}},
        },
    )
    hits = res["hits"]["hits"]
    print("hits:", res["hits"]["total"]["value"], "highlight:", json.dumps(hits[0].get("highlight"), ensure_ascii=False))
    assert hits and "highlight" in hits[0], res
    buckets = {b["key"]: b["doc_count"] for b in res["aggregations"]["by_source"]["buckets"]}
    days = [(b["key_as_string"], b["doc_count"]) for b in res["aggregations"]["per_day"]["buckets"]]
    print("terms:", buckets, "date_histogram:", days, "cardinality:", res["aggregations"]["sources"]["value"])
    assert buckets and days

    body_hits = es.search(index=PREFIX, query={"match": {"body": "الروسية"}})["hits"]["total"]["value"]
    print("arabic-analyzer field match:", body_hits)
    assert body_hits >= 1

    es.indices.delete(index=f"{PREFIX}-v1")
    es.indices.delete_index_template(name=f"{PREFIX}-template")
    print("OK")


if __name__ == "__main__":
    main()
