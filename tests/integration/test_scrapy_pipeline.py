"""A real Scrapy crawl (``scrapy runspider`` in a subprocess) of a local HTTP server serving
Arabic pages, through ``ingest.scrapy_pipeline.NewsflowPipeline``, the real worker and indexer,
into Elasticsearch."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsflow.core.identity import article_id
from tests.conftest import Pipeline

pytestmark = pytest.mark.integration

ARTICLES = {
    "riyadh-metro.html": (
        "افتتاح المرحلة الأولى من قطار الرياض",
        [
            "أعلنت الهيئة الملكية لمدينة الرياض اليوم افتتاح المرحلة الأولى من مشروع قطار الرياض،"
            " الذي يربط أحياء العاصمة الشمالية بمركز المدينة عبر ثلاثة خطوط رئيسية.",
            "وقال المتحدث باسم الهيئة إن القطار سينقل أكثر من مئة ألف راكب يوميا في عامه الأول،"
            " وإن المحطات الجديدة مجهزة لاستقبال ذوي الاحتياجات الخاصة.",
            "ويعد المشروع من أكبر مشاريع النقل العام في المنطقة، وقد استغرق تنفيذه عدة سنوات"
            " بمشاركة شركات محلية وعالمية.",
        ],
    ),
    "jeddah-festival.html": (
        "مهرجان جدة التاريخية يستقبل زواره",
        [
            "انطلقت مساء أمس فعاليات مهرجان جدة التاريخية بحضور آلاف الزوار من داخل المملكة"
            " وخارجها، وسط أجواء احتفالية في أزقة المنطقة القديمة.",
            "ويضم المهرجان معارض للحرف اليدوية وعروضا فنية شعبية وأمسيات شعرية تستمر أسبوعين،"
            " إضافة إلى جولات إرشادية في البيوت التراثية.",
            "وأكد المنظمون أن المهرجان يهدف إلى التعريف بتاريخ المدينة وتنشيط السياحة الداخلية.",
        ],
    ),
    "dammam-rain.html": (
        "أمطار غزيرة على الدمام وتعليق الدراسة",
        [
            "هطلت أمطار غزيرة على مدينة الدمام والمناطق المجاورة منذ ساعات الفجر الأولى، ما أدى"
            " إلى تجمع المياه في عدد من الشوارع الرئيسية.",
            "وأعلنت إدارة التعليم في المنطقة الشرقية تعليق الدراسة الحضورية ليوم غد والاكتفاء"
            " بالتعليم عن بعد حرصا على سلامة الطلاب.",
            "ودعا الدفاع المدني السكان إلى توخي الحذر والابتعاد عن مجاري السيول.",
        ],
    ),
}

SPIDER = """
import scrapy


class LocalNews(scrapy.Spider):
    name = "local-news"

    def __init__(self, start=None, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]

    def parse(self, response):
        for href in response.css("a.article::attr(href)").getall():
            yield response.follow(href, self.parse_article)

    def parse_article(self, response):
        yield {
            "url": response.url,
            "title": response.css("h1::text").get(),
            "html": response.text,  # the worker extracts the article text
            "source": "local-news",
        }
"""


def page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><nav><a href='index.html'>الرئيسية</a></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>جميع الحقوق محفوظة</footer>"
        "</body></html>"
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    links = []
    for name, (title, paragraphs) in ARTICLES.items():
        (root / name).write_text(page(title, paragraphs), encoding="utf-8")
        links.append(f'<li><a class="article" href="{name}">{title}</a></li>')
    index = f'<html lang="ar"><meta charset="utf-8"><body><ul>{"".join(links)}</ul></body></html>'
    (root / "index.html").write_text(index, encoding="utf-8")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_scrapy_crawl_of_arabic_pages_is_searchable(
    pipeline: Pipeline, site: str, tmp_path: Path
) -> None:
    pytest.importorskip("scrapy", reason="Scrapy is not installed: pip install '.[scrapy]'")
    spider = tmp_path / "spider.py"
    spider.write_text(SPIDER)
    # The environment names a topic nobody reads: the Scrapy setting must win over it.
    env = {**pipeline.env, "NEWSFLOW_TOPIC_RAW": "scrapy-test.unused"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            str(spider),
            "-a",
            f"start={site}index.html",
            "-s",
            'ITEM_PIPELINES={"ingest.scrapy_pipeline.NewsflowPipeline": 300}',
            "-s",
            f"NEWSFLOW_TOPIC_RAW={pipeline.settings.topic_raw}",
            "-s",
            "LOG_LEVEL=INFO",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "'item_scraped_count': 3" in log and "'newsflow/sent': 3" in log, log[-3000:]

    ids = {article_id(f"{site}{name}") for name in ARTICLES}
    assert pipeline.wait_ids(ids, timeout=180) == ids
    es = pipeline.es()
    try:
        es.indices.refresh(index=pipeline.settings.es_alias)
        hits = es.search(
            index=pipeline.settings.es_alias, query={"match": {"body": "أمطار الدمام"}}, size=3
        )["hits"]["hits"]
        assert hits and hits[0]["_id"] == article_id(f"{site}dammam-rain.html")
        doc = hits[0]["_source"]
        assert doc["title"] == ARTICLES["dammam-rain.html"][0]
        assert "تعليق الدراسة" in doc["body"] and doc["source"] == "local-news"
    finally:
        es.close()
