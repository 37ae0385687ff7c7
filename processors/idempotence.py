"""The worker's producer with ``acks=all`` and idempotence, as newsflow's other producers.

Faust passes ``enable_idempotence`` to aiokafka only under ``processing_guarantee=
"exactly_once"`` (transactions: a producer per partition and read_committed consumers, a cost
this pipeline does not need because every document has a deterministic id). Idempotence alone
lets aiokafka retry a send after a broker failure without writing the record twice: the broker
drops a batch whose producer id and sequence number it has already stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer


class IdempotentProducer(Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


def use_idempotent_producer(app: faust.App) -> None:
    """Make the app's transport build IdempotentProducer (before the producer is created)."""
    app.transport.Producer = IdempotentProducer  # type: ignore[misc]
