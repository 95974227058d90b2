"""The rhyme task: Chicago Rhyming Poetry Corpus stanzas mapped into poetry, scored by scheme."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.poetry.rhyme_task import read_gold, rhyme
from cookbook_plugins.poetry.template import poetry

CORPUS = Path(__file__).parent / "fixtures" / "poetry"
STANZA = (
    "The cat sat on the mat tonight,\nBeneath a moon of silver grey;\n"
    "It watched the stars so clear and bright,\nAnd dreamed until the break of day."
)


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the fixture corpus."""
    return Path(shutil.copytree(CORPUS, tmp_path / "poetry"))


def test_rhyme_is_registered_for_poetry():
    task = get_registry().get("tasks", "rhyme")
    assert task is rhyme
    assert (task.template, task.mode) == ("poetry", "generate")


def test_gold_stanzas_pair_with_raw_stanzas_by_their_final_words():
    records = list(rhyme.read(str(CORPUS)))
    # The raw-only couplet, the malformed gold block and the gold stanza without a raw
    # partner are all left out.
    assert [r.id for r in records] == ["poet-1", "poet-5"]
    first, second = records
    assert first.slots == {"scheme": "ABAB", "lines": 4}
    assert first.answers == [STANZA]
    assert first.prompt == "Write a poem of 4 lines with the rhyme scheme ABAB.\nPoem:\n"
    assert second.slots["scheme"] == "AABB"
    assert second.answers[0].endswith("from off the lane 4")  # footnote number kept as written


def test_gold_stanzas_follow_their_schemes():
    params = poetry.resolve()
    for record in rhyme.read(str(CORPUS)):
        assert poetry.align(record.slots, record.answers[0], params) == 1.0


def test_authors_and_periods_select_files(corpus):
    assert len(list(rhyme.read(str(CORPUS), split="poet"))) == 2
    assert len(list(rhyme.read(str(CORPUS), split="early"))) == 2
    with pytest.raises(CookbookError, match=r"no author or period 'late' \(authors: poet"):
        list(rhyme.read(str(CORPUS), split="late"))
    (corpus / "english_raw" / "early.authors").write_text("poet\nkeats\n")
    with pytest.raises(CookbookError, match=r"early\.authors:2: no poems for author 'keats'"):
        list(rhyme.read(str(corpus), split="early"))


def test_stanza_length_limits():
    assert list(rhyme.read(str(CORPUS), max_lines=3)) == []
    assert len(list(rhyme.read(str(CORPUS), min_lines=4, max_lines=4))) == 2


def test_malformed_gold_blocks_are_skipped_or_with_strict_named():
    stanzas = read_gold(CORPUS / "english_gold" / "poet.pgold")
    assert [s.poem for s in stanzas] == ["POEM0", "POEM1", "POEM3"]
    assert stanzas[0].scheme == ["1", "2", "1", "2"]
    with pytest.raises(CookbookError, match=r"poet\.pgold:10: the scheme has 2 entries for 3"):
        list(rhyme.read(str(CORPUS), strict=True))


def test_a_folder_that_is_not_the_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CookbookError, match="expected the folders english_raw and english_gold"):
        list(rhyme.read(str(tmp_path)))


def test_a_gold_file_without_stanzas_is_a_clear_error(corpus):
    (corpus / "english_gold" / "poet.pgold").write_text("nothing here\n")
    with pytest.raises(CookbookError, match=r"poet\.pgold: no 'POEMn word \.\.\.' stanza"):
        list(rhyme.read(str(corpus)))
    with pytest.raises(CookbookError, match=r"poet\.pgold:1: expected 'POEMn word"):
        list(rhyme.read(str(corpus), strict=True))


def test_metric_is_the_share_of_outputs_that_follow_the_scheme():
    records = list(rhyme.read(str(CORPUS)))  # ABAB, then AABB
    both = rhyme.metric(records, [STANZA, records[1].answers[0]])
    assert both == {"follows_scheme": 100.0, "pair_agreement": 100.0}
    half = rhyme.metric(records, [STANZA, STANZA])  # ABAB text where AABB is asked: 2/6 agree
    assert half["follows_scheme"] == 50.0
    assert half["pair_agreement"] == pytest.approx(100 * (1 + 2 / 6) / 2)
    with pytest.raises(CookbookError, match="2 records but 1 outputs"):
        rhyme.metric(records, [STANZA])
