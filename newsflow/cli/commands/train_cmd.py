"""``newsflow train``: train the models that enrichment can use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    possible_states: Annotated[
        int, typer.Option(help="1: weigh every attribute for every label (CRFsuite's option)")
    ] = 0,
    holdout: Annotated[
        float,
        typer.Option(help="also train on the leading part and score this trailing fraction"),
    ] = 0.0,
    cv: Annotated[
        int,
        typer.Option(help="K-fold cross-validate the --setting grid first, train the winner"),
    ] = 0,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting",
            help="with --cv: settings to try, e.g. 'c1=0.02,0.05 c2=0.1' (every combination; "
            "the rest from --c1 ...); repeatable",
        ),
    ] = None,
    cv_log: Annotated[
        Path | None,
        typer.Option(help="with --cv: JSONL of scored settings, reused instead of retrained"),
    ] = None,
    cv_only: Annotated[
        bool, typer.Option("--cv-only", help="with --cv: print the search, train nothing")
    ] = False,
    keep_listed: Annotated[
        bool | None,
        typer.Option(
            "--keep-listed/--no-keep-listed",
            help="add back listed multi-word names the model left out (default: what --cv "
            "chose, else yes)",
        ),
    ] = None,
) -> None:
    """Train the CRF NER model (backend ``crf``) deterministically; prints its metadata."""
    if not 0 <= holdout < 1:
        raise typer.BadParameter("--holdout must be in [0, 1)")
    from processors.entities.crf_train import train as train_model
    from processors.entities.crf_train import training_params

    params = training_params(c1, c2, max_iterations, min_freq, possible_states)
    found: dict[str, Any] | None = None
    if cv:
        from processors.entities.crf_cv import parse_settings, search

        try:
            grid = parse_settings(setting or [], params)
            found = search(train, cv, grid, cv_log)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        if cv_only:
            typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
            return
        params = {k: found["chosen"][k] for k in params}
    metadata = train_model(
        train,
        out or _bundled_model_path(),
        **params,
        holdout=holdout,
        keep_listed=keep_listed if keep_listed is not None else (
            found["chosen"]["keep_listed"] if found else True
        ),
        cv=found,
    )
    typer.echo(json.dumps(metadata, ensure_ascii=False, indent=2))
