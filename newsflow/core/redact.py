"""Secrets never reach a log line, whatever library logs them and at whatever level.

kafka-python, for one, logs its whole configuration (SASL password included) at DEBUG, and the
bytes of a PLAIN login. ``newsflow.core.clients`` registers every secret it hands to a client
here; a log-record factory then replaces each registered secret in the rendered message and in
the formatted exception before any handler (ours, Faust's, pytest's) sees the record."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import traceback
from typing import Any

MASK = "**********"
MIN_SECRET_CHARS = 4  # shorter strings would mask ordinary words; no real secret is that short

_secrets: set[str] = set()
_lock = threading.Lock()
_base_factory = logging.getLogRecordFactory()
_installed = False


def _variants(secret: str) -> set[str]:
    """The secret plus the forms it travels in: an Elasticsearch "encoded" API key is
    base64(id:key), so its decoded form and key half are secrets too."""
    found = {secret}
    try:
        decoded = base64.b64decode(secret, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        decoded = ""
    if ":" in decoded:
        found.update({decoded, decoded.partition(":")[2]})
    if ":" in secret:  # an API key given as id:key
        found.add(secret.partition(":")[2])
    return {s for s in found if len(s) >= MIN_SECRET_CHARS}


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` (and its encoded forms) in every log record from now on."""
    if not secret:
        return
    with _lock:
        _secrets.update(_variants(secret))
        _install()


def redact(text: str) -> str:
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters reuse exc_text when set: format it here, redacted.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    return record


def _install() -> None:
    global _installed
    if not _installed:
        logging.setLogRecordFactory(_redacting_factory)
        _installed = True
