"""``newsflow reindex``: rebuild the alias's index as ``<alias>-v<N+1>`` and switch to it.

The local node has no ``_reindex`` (it needs a module not every cluster loads), so documents are
copied with scroll + bulk. Every copy carries the document's external version (its
``ingested_at`` in ms, see ``ingest.indexer``), so copying never overwrites a newer write.

Order, so that reads never see both indices and writes never fail:
1. create the new index (the template applies) and copy everything from the old one;
2. copy again: picks up what the indexer wrote to the old index during the first copy;
3. one ``_aliases`` call removes the old index from the alias and adds the new one as its write
   index (atomic: at no moment does the alias hold both, or neither);
4. copy once more from the old index (now out of the alias) for the writes that landed between
   step 2 and the switch; the versions keep anything newer the indexer wrote meanwhile. A bulk
   request that resolved the alias before the switch can still be writing to the old index
   after it, so this pass starts only once the old index has had no write in progress and no
   new write for ``QUIET_SECONDS``, and is repeated until no write landed there during a pass.
The old index is kept (``--delete-old`` removes it) so a bad rebuild can be switched back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, helpers

from newsflow.core.settings import Settings

Say = Callable[[str], None]
QUIET_SECONDS = 1.0  # no write started on the old index for this long: the stragglers are in
POLL_SECONDS = 0.2
STRAGGLER_TIMEOUT = 120.0


@dataclass
class ReindexReport:
    old_index: str
    new_index: str
    copied: list[int] = field(default_factory=list)  # documents written by each pass
    already_there: list[int] = field(default_factory=list)  # refused: same or newer version
    deleted_old: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"old_index": self.old_index, "new_index": self.new_index,
                "copied_per_pass": self.copied, "already_there_per_pass": self.already_there,
                "deleted_old": self.deleted_old}


def write_index(es: Elasticsearch, alias: str) -> str:
    members = dict(es.indices.get_alias(name=alias))
    for index, data in members.items():
        if data.get("aliases", {}).get(alias, {}).get("is_write_index"):
            return str(index)
    if len(members) == 1:
        return str(next(iter(members)))
    raise RuntimeError(f"alias {alias!r} has no write index among {sorted(members)}")


def next_index_name(alias: str, current: str) -> str:
    match = re.fullmatch(rf"{re.escape(alias)}-v(\d+)", current)
    version = int(match.group(1)) if match else 0
    return f"{alias}-v{version + 1}"


def _actions(es: Elasticsearch, source: str, target: str) -> Iterator[dict[str, Any]]:
    for hit in helpers.scan(es, index=source, query={"query": {"match_all": {}}},
                            size=500, version=True):
        yield {"_op_type": "index", "_index": target, "_id": hit["_id"],
               "_source": hit["_source"], "version": hit["_version"],
               "version_type": "external"}


def copy_pass(es: Elasticsearch, source: str, target: str) -> tuple[int, int]:
    """(written, refused as already there). Any other failure raises: a partial copy must not
    be switched to."""
    written = refused = 0
    es.indices.refresh(index=source)  # the scan only sees refreshed documents
    for ok, item in helpers.streaming_bulk(es, _actions(es, source, target), chunk_size=500,
                                           raise_on_error=False, max_retries=5):
        result = next(iter(item.values()))
        if ok:
            written += 1
        elif result.get("status") == 409:
            refused += 1
        else:
            raise RuntimeError(f"copy into {target} failed: {result.get('error')}")
    es.indices.refresh(index=target)
    return written, refused


def _indexing(es: Elasticsearch, index: str) -> tuple[int, int]:
    """(writes done so far, writes in progress) on the primaries of ``index``."""
    stats = es.indices.stats(index=index, metric="indexing")["indices"][index]["primaries"]
    return int(stats["indexing"]["index_total"]), int(stats["indexing"]["index_current"])


def wait_for_stragglers(es: Elasticsearch, index: str, timeout: float = STRAGGLER_TIMEOUT) -> int:
    """Until ``index`` has had no write in progress and no new write for ``QUIET_SECONDS``;
    returns its write count then. Raises after ``timeout``: something still writes to an index
    the alias no longer names (an indexer pointed at the index itself?), and copying would
    never catch up with it."""
    deadline = time.monotonic() + timeout
    total, _ = _indexing(es, index)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        now_total, current = _indexing(es, index)
        if now_total != total or current:
            total, quiet_since = now_total, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            return total
    raise RuntimeError(f"{index} still takes writes {timeout:.0f} s after leaving the alias")


def switch_alias(es: Elasticsearch, alias: str, old: str, new: str) -> None:
    es.indices.update_aliases(actions=[
        {"remove": {"index": old, "alias": alias}},
        {"add": {"index": new, "alias": alias, "is_write_index": True}},
    ])


def reindex(settings: Settings, es: Elasticsearch, *, delete_old: bool = False,
            say: Say = lambda m: None) -> ReindexReport:
    alias = settings.es_alias
    old = write_index(es, alias)
    new = next_index_name(alias, old)
    report = ReindexReport(old, new)
    if es.indices.exists(index=new):
        raise RuntimeError(f"{new} already exists: delete it or switch the alias to it by hand")
    es.indices.create(index=new)
    for label in ("copy", "catch-up before the switch"):
        written, refused = copy_pass(es, old, new)
        report.copied.append(written)
        report.already_there.append(refused)
        say(f"{label}: {written} written, {refused} already there")
    switch_alias(es, alias, old, new)
    say(f"alias {alias}: {old} -> {new} (one atomic _aliases call)")
    writes = wait_for_stragglers(es, old)
    while True:
        written, refused = copy_pass(es, old, new)
        report.copied.append(written)
        report.already_there.append(refused)
        say(f"catch-up after the switch: {written} written, {refused} already there")
        after = wait_for_stragglers(es, old)
        if after == writes:  # nothing landed on the old index during the pass
            break
        writes = after
    if delete_old:
        es.indices.delete(index=old)
        report.deleted_old = True
    return report
