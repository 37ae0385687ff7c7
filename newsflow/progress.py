"""A progress bar with a rate, for every long command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "…/s", style="progress.data.speed")


@contextmanager
def progress_bar(
    label: str, total: int | None = None, disable: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``. Writes to stderr, so stdout stays clean for ``--json``."""
    if disable:
        yield lambda n: None
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    from rich.console import Console

    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
