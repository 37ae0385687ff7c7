"""``newsflow train``: train the models that enrichment can use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

train_app = typer.Typer(help="Train enrichment models.", no_args_is_help=True)


def _bundled_model_path() -> Path:
    import processors
    from processors.entities.crf import MODEL_RESOURCE

    return Path(processors.__file__).resolve().parent.joinpath(*MODEL_RESOURCE)


@train_app.command("ner")
def ner(
    train: Annotated[
        Path,
        typer.Option(
            "--train", exists=True, dir_okay=False, help="`token TAG` BIO file (a TRAIN split)"
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="model file; a .json with its metadata is written beside it "
                          "(default: the bundled model, processors/data/ner_crf/)"),
    ] = None,
    c1: Annotated[float, typer.Option(help="L1 regularisation")] = 0.05,
    c2: Annotated[float, typer.Option(help="L2 regularisation")] = 0.05,
    max_iterations: Annotated[int, typer.Option(help="L-BFGS iterations")] = 150,
    min_freq: Annotated[int, typer.Option(help="drop features seen fewer times")] = 2,
    holdout: Annotated[
        float,
        typer.Option(help="also train on the leading part and score this trailing fraction"),
    ] = 0.0,
) -> None:
    """Train the CRF NER model (backend ``crf``) deterministically; prints its metadata."""
    if not 0 <= holdout < 1:
        raise typer.BadParameter("--holdout must be in [0, 1)")
    from processors.entities.crf_train import train as train_model

    metadata = train_model(
        train,
        out or _bundled_model_path(),
        c1=c1,
        c2=c2,
        max_iterations=max_iterations,
        min_freq=min_freq,
        holdout=holdout,
    )
    typer.echo(json.dumps(metadata, ensure_ascii=False, indent=2))
