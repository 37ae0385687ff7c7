"""Cross-validation of the CRF's training settings: the grid syntax, the folds, the choice of
the winner, the log that spares retraining, and the CLI that trains the winner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processors.entities.crf import CrfEntityExtractor
from processors.entities.crf_cv import (
    best_setting,
    cross_validate,
    fold_bounds,
    parse_settings,
    score_both,
)
from processors.eval_ner import evaluate_sentences, read_conll

DEV = Path(__file__).resolve().parents[1] / "data" / "ner_dev.conll"
BASE = {"c1": 0.05, "c2": 0.05, "max_iterations": 150, "min_freq": 2}


def test_settings_are_every_combination_without_repeats() -> None:
    specs = ["c1=0.1,0.2 max_iterations=50", "c2=0.01", "c1=0.1 max_iterations=50"]
    grid = parse_settings(specs, BASE)
    assert grid == [
        {**BASE, "c1": 0.1, "max_iterations": 50},
        {**BASE, "c1": 0.2, "max_iterations": 50},
        {**BASE, "c2": 0.01},
    ]
    assert parse_settings([], BASE) == [BASE]
    with pytest.raises(ValueError, match="NAME=V1,V2"):
        parse_settings(["window=3"], BASE)
    with pytest.raises(ValueError, match="NAME=V1,V2"):
        parse_settings(["c1=abc"], BASE)


def test_folds_are_contiguous_and_cover_everything() -> None:
    assert fold_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    with pytest.raises(ValueError, match="K"):
        fold_bounds(5, 1)


def test_best_setting_takes_the_highest_variant_and_the_first_on_a_tie() -> None:
    def row(params: dict, with_listed: float, without: float) -> dict:
        return {
            "params": params,
            "crf": {"micro_f1": with_listed},
            "crf_without_listed_names": {"micro_f1": without},
        }

    rows = [row({"c1": 1}, 0.70, 0.71), row({"c1": 2}, 0.72, 0.70), row({"c1": 3}, 0.72, 0.72)]
    assert best_setting(rows) == ({"c1": 2}, True, 0.72)
    assert best_setting(rows[:1]) == ({"c1": 1}, False, 0.71)


def test_score_both_matches_the_extractor_either_way() -> None:
    """The CV's one-pass scoring is what ``newsflow eval ner`` measures, for both choices."""
    sentences = read_conll(DEV)[:60]
    with_listed, without = score_both(sentences, CrfEntityExtractor(keep_listed=True))
    for keep, got in ((True, with_listed), (False, without)):
        expected = evaluate_sentences(sentences, CrfEntityExtractor(keep_listed=keep))
        assert got["micro"] == expected["micro"]
        assert got["per_type"] == expected["per_type"]


def test_cross_validation_logs_and_reuses_its_results(tmp_path: Path) -> None:
    sentences = read_conll(DEV)
    log = tmp_path / "cv.jsonl"
    settings = parse_settings(["c1=0.05,1.0"], {**BASE, "max_iterations": 20, "min_freq": 1})
    rows = cross_validate(sentences, 2, settings, "sha", log)
    assert [r["params"] for r in rows] == settings
    for r in rows:
        assert len(r["crf"]["fold_micro_f1"]) == 2
        assert 0 < r["crf"]["micro_f1"] <= 1
    assert rows[0]["crf"] != rows[1]["crf"]  # the setting reaches the trainer
    assert len(log.read_text().splitlines()) == 2
    # the same request again is read back, not retrained; another train file is not
    assert cross_validate(sentences, 2, settings, "sha", log) == rows
    assert len(log.read_text().splitlines()) == 2
    # a parameter at its old implicit value matches the rows logged before it existed
    explicit = [{**s, "possible_states": 0} for s in settings]
    assert [r["crf"] for r in cross_validate(sentences, 2, explicit, "sha", log)] == [
        r["crf"] for r in rows
    ]
    assert len(log.read_text().splitlines()) == 2
    cross_validate(sentences, 2, settings[:1], "other", log)
    assert len(log.read_text().splitlines()) == 3


def test_train_cli_trains_the_cv_winner(tmp_path: Path) -> None:
    from newsflow.cli.main import app

    out = tmp_path / "m.crfsuite"
    args = ["train", "ner", "--train", str(DEV), "--out", str(out), "--max-iterations", "20"]
    args += ["--cv", "2", "--setting", "c1=0.05,1.0", "--cv-log", str(tmp_path / "cv.jsonl")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    meta = json.loads(out.with_suffix(".json").read_text())
    chosen = meta["cv"]["chosen"]
    assert meta["params"] == {k: chosen[k] for k in meta["params"]}
    assert len(meta["cv"]["settings"]) == 2 and "micro_f1" in meta["cv"]["rules"]
    ex = CrfEntityExtractor(out.read_bytes(), meta)
    assert ex.keep_listed is chosen["keep_listed"]
    res = CliRunner().invoke(app, [*args, "--setting", "c1=x"])
    assert res.exit_code != 0 and "NAME=V1,V2" in res.output
