"""Entity-level NER scoring and the ``newsflow eval ner`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.core.contract import Entity
from processors.eval_ner import (
    bio_spans,
    evaluate_conll,
    read_conll,
    score,
    sentence_text,
    spans_to_bio,
)

DATA = Path(__file__).resolve().parents[1] / "data"
DEV = DATA / "ner_dev.conll"


def test_bio_spans_follow_conlleval_chunking() -> None:
    tags = ["B-PERS", "I-PERS", "O", "I-LOC", "I-LOC", "B-ORG", "I-PERS", "B-LOC", "B-LOC"]
    assert bio_spans(tags) == {
        ("PERS", 0, 2),
        ("LOC", 3, 5),  # I- after O opens an entity
        ("ORG", 5, 6),
        ("PERS", 6, 7),  # type change opens a new one
        ("LOC", 7, 8),
        ("LOC", 8, 9),
    }


def _ent(etype: str, start: int, end: int, text: str) -> Entity:
    return Entity(
        type=etype, text=text[start:end], canonical="x", start=start, end=end, confidence=1
    )  # type: ignore[arg-type]


def test_spans_to_bio_tags_whole_tokens() -> None:
    tokens = ["زار", "وبوتين", "بيونغ", "يانغ", "."]
    text, offsets = sentence_text(tokens)
    ents = [
        _ent("PERS", text.index("بوتين"), text.index("بوتين") + 5, text),  # inside وبوتين
        _ent("LOC", text.index("بيونغ"), text.index("يانغ") + 4, text),
    ]
    assert spans_to_bio(len(tokens), offsets, ents) == ["O", "B-PERS", "B-LOC", "I-LOC", "O"]


def test_score_micro_and_per_type() -> None:
    gold = [{("PERS", 0, 2), ("LOC", 3, 4)}, {("ORG", 0, 1)}]
    pred = [{("PERS", 0, 2), ("LOC", 3, 5)}, {("ORG", 0, 1), ("MISC", 2, 3)}]
    s = score(gold, pred)
    assert s["micro"]["precision"] == pytest.approx(2 / 4)
    assert s["micro"]["recall"] == pytest.approx(2 / 3)
    assert s["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["per_type"]["PERS"]["f1"] == 1.0
    assert s["per_type"]["MISC"]["support"] == 0


def test_read_conll_rejects_untagged_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conll"
    bad.write_text("كلمة O\nكلمة\n", encoding="utf-8")
    with pytest.raises(ValueError, match="without a tag"):
        read_conll(bad)


def test_dev_set_quality() -> None:
    result = evaluate_conll(DEV)
    assert result["sentences"] == len(read_conll(DEV)) >= 40
    assert result["tokens"] > 500
    assert result["micro"]["f1"] >= 0.8, result["micro"]
    for etype in ("PERS", "LOC", "ORG"):
        assert result["per_type"][etype]["f1"] >= 0.7, (etype, result["per_type"][etype])


def test_cli_json() -> None:
    from newsflow.cli.main import app
    res = CliRunner().invoke(app, ["eval", "ner", str(DEV), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out) >= {"micro", "per_type", "tokens_per_second", "backend", "tokens", "sentences"}
    assert out["backend"] == "rules"
    assert 0 <= out["micro"]["f1"] <= 1
    for m in out["per_type"].values():
        assert set(m) == {"precision", "recall", "f1", "support"}


def test_cli_table_and_bad_backend() -> None:
    from newsflow.cli.main import app
    res = CliRunner().invoke(app, ["eval", "ner", str(DEV)])
    assert res.exit_code == 0, res.output
    assert "micro" in res.output and "tokens/s" in res.output
    res = CliRunner().invoke(app, ["eval", "ner", str(DEV), "--backend", "nope"])
    assert res.exit_code == 2


@pytest.mark.corpus
def test_anercorp_test_split(shared_dir: Path) -> None:
    path = shared_dir / "eval" / "anercorp" / "ANERCorp_CamelLab_test.txt"
    if not path.is_file():
        pytest.skip(f"ANERcorp test split absent ({path})")
    result = evaluate_conll(path)
    assert result["micro"]["f1"] >= 0.55, result["micro"]
