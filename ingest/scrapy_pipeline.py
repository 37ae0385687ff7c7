"""A Scrapy item pipeline that sends every scraped article to ``news.raw``.

Install with the ``scrapy`` extra (``pip install 'newsflow[scrapy]'``), then in the Scrapy
project's settings.py::

    ITEM_PIPELINES = {"ingest.scrapy_pipeline.NewsflowPipeline": 300}
    NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9092"   # optional: any NEWSFLOW_* setting

Items are dicts, ``scrapy.Item`` or dataclass/attrs items with the fields of the raw-article
contract (newsflow.core.contract.RawArticle): ``url`` and either ``html`` (the page; the worker
extracts the text) or ``body``, optionally ``title``, ``source``, ``published_at``,
``language``; other fields are kept in ``metadata``. A ``NEWSFLOW_*`` key in the Scrapy
settings wins over the same environment variable. An item that breaks the contract is
dead-lettered with its reason and dropped (Scrapy logs it); the others go on unchanged to the
next pipeline. Closing the spider waits until the broker has acknowledged every article.
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from ingest.producer import ArticleProducer, RejectedArticle
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "NEWSFLOW_"


def settings_from_scrapy(scrapy_settings: Any) -> Settings:
    """newsflow Settings: ``NEWSFLOW_*`` keys of the Scrapy settings, then the environment."""
    fields = Settings.model_fields
    overrides = {
        key.removeprefix(PREFIX).lower(): scrapy_settings.get(key)
        for key in scrapy_settings
        if isinstance(key, str) and key.startswith(PREFIX)
    }
    unknown = sorted(f"{PREFIX}{k.upper()}" for k in overrides if k not in fields)
    if unknown:
        raise ValueError(f"not newsflow settings: {', '.join(unknown)}")
    return Settings(**overrides)


class NewsflowPipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: ArticleProducer | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> NewsflowPipeline:
        return cls(settings_from_scrapy(crawler.settings))

    def open_spider(self, spider: Any) -> None:
        self.producer = ArticleProducer(self.settings)
        log.info(
            "sending items to %s at %s",
            self.settings.topic_raw,
            self.settings.kafka_bootstrap_servers,
        )

    def process_item(self, item: Any, spider: Any) -> Any:
        if self.producer is None:
            raise RuntimeError("NewsflowPipeline.process_item before open_spider")
        data = ItemAdapter(item).asdict()
        origin = f"scrapy:{spider.name}:{data.get('url', '?')}"
        try:
            self.producer.send(data, origin=origin)
        except RejectedArticle as exc:
            raise DropItem(f"dead-lettered to {self.settings.topic_dlq}: {exc.reason}") from None
        return item

    def close_spider(self, spider: Any) -> None:
        if self.producer is None:
            return
        self.producer.close()
        summary = self.producer.summary.as_dict()
        spider.crawler.stats.set_value("newsflow/sent", summary.get("sent", 0))
        log.info("newsflow: %s", summary)
        self.producer = None
