"""Unlabelled text for instruction backtranslation: reading .txt/.md/.jsonl/SQuAD files and
folders, splitting into paragraphs or Markdown sections, the paper's segment filters and
their drop counts, and the errors bad inputs give."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook_plugins.backtranslation.segments import (
    REASONS,
    Segment,
    SegmentFilter,
    describe_drops,
    filter_segments,
    jaccard,
    max_sentence_overlap,
    read_segments,
    read_texts,
    split_segments,
)


def prose(sentences: int, tag: str = "a") -> str:
    """Plain text whose sentences share almost no word 3-grams with each other or with prose
    of another ``tag``."""
    return " ".join(
        f"Sentence {tag}{i} talks about topic{tag}{i} and idea{tag}{i} in some depth."
        for i in range(sentences)
    )


def at(path: Path) -> str:
    """``path`` as a pattern for ``pytest.raises(match=...)``."""
    return re.escape(str(path))


def seg(text: str, id: str = "doc:p1") -> Segment:
    return Segment(id=id, text=text, source="doc.txt")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[object]) -> Path:
    return write(path, "".join(json.dumps(row) + "\n" for row in rows))


def squad(*articles: list[str]) -> dict:
    """A SQuAD document with one article per list of contexts."""
    return {
        "version": "1.1",
        "data": [
            {"title": f"t{i}", "paragraphs": [{"context": c, "qas": []} for c in contexts]}
            for i, contexts in enumerate(articles)
        ],
    }


# --- reading ------------------------------------------------------------------------------


def test_a_txt_file_is_one_document_read_as_utf8_without_its_bom(tmp_path):
    path = tmp_path / "wiki.txt"
    path.write_bytes("\ufeffCafé first.\n\nSecond.\n".encode())
    assert list(read_texts(path)) == [("wiki.txt", str(path), "Café first.\n\nSecond.\n")]


def test_a_md_file_is_one_document(tmp_path):
    path = write(tmp_path / "notes.md", "# Title\n\nBody.\n")
    assert list(read_texts(str(path))) == [("notes.md", str(path), "# Title\n\nBody.\n")]


def test_a_folder_reads_its_supported_files_sorted_by_name_and_not_recursively(tmp_path):
    write(tmp_path / "b.md", "markdown")
    write(tmp_path / "a.txt", "plain")
    write_jsonl(tmp_path / "c.jsonl", [{"text": "line one"}])
    write(tmp_path / "d.json", json.dumps(squad(["context"])))
    write(tmp_path / "notes.csv", "ignored,file")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "e.txt", "not read")
    docs = list(read_texts(tmp_path))
    assert [(doc_id, text) for doc_id, _, text in docs] == [
        ("a.txt", "plain"),
        ("b.md", "markdown"),
        ("c.jsonl:1", "line one"),
        ("d.json:a0:c0", "context"),
    ]
    assert docs[2][1] == str(tmp_path / "c.jsonl")


def test_a_jsonl_file_gives_one_document_per_line_from_the_text_field(tmp_path):
    path = tmp_path / "data.jsonl"
    write(path, '{"body": "first", "text": "not this"}\n\n{"body": "third line"}\n')
    assert list(read_texts(path, text_field="body")) == [
        ("data.jsonl:1", str(path), "first"),
        ("data.jsonl:3", str(path), "third line"),
    ]


def test_a_squad_file_gives_each_distinct_context_once(tmp_path):
    path = write(tmp_path / "squad.json", json.dumps(squad(["one", "two", "one"], ["two", "x"])))
    assert [(doc_id, text) for doc_id, _, text in read_texts(path)] == [
        ("squad.json:a0:c0", "one"),
        ("squad.json:a0:c1", "two"),
        ("squad.json:a1:c1", "x"),
    ]


def test_read_segments_numbers_segments_within_each_document(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"text": "A.\n\nB."}, {"text": "C."}])
    assert read_segments(path) == [
        Segment("data.jsonl:1:p1", "A.", str(path)),
        Segment("data.jsonl:1:p2", "B.", str(path)),
        Segment("data.jsonl:2:p1", "C.", str(path)),
    ]


def test_read_segments_splits_by_heading_and_skips_empty_documents(tmp_path):
    write(tmp_path / "a.md", "# One\ntext\n\nmore\n# Two\nend\n")
    write(tmp_path / "b.txt", "   \n")
    segments = read_segments(tmp_path, by="heading")
    assert [(s.id, s.text) for s in segments] == [
        ("a.md:p1", "# One\ntext\n\nmore"),
        ("a.md:p2", "# Two\nend"),
    ]


# --- splitting ----------------------------------------------------------------------------


def test_paragraphs_are_blocks_between_blank_lines_stripped_and_non_empty():
    text = "\n  First line\nsame paragraph  \n\n\n\nSecond\r\n\r\nThird\n \t \nFourth\n\n"
    assert split_segments(text) == ["First line\nsame paragraph", "Second", "Third", "Fourth"]


def test_a_heading_starts_a_segment_that_includes_it():
    text = (
        "Intro text.\n\n# One\nbody one\n\n## Two\nbody two\n```\n# a code comment\n```\n"
        "#hashtag is no heading\n####### seven is no heading\n###### Six\n"
    )
    assert split_segments(text, by="heading") == [
        "Intro text.",
        "# One\nbody one",
        "## Two\nbody two\n```\n# a code comment\n```\n#hashtag is no heading\n"
        "####### seven is no heading",
        "###### Six",
    ]


def test_an_unknown_split_is_an_error():
    with pytest.raises(CookbookError, match="'sentence'.*paragraph, heading"):
        split_segments("text", by="sentence")


# --- filters ------------------------------------------------------------------------------

DEFAULT = SegmentFilter()
FOOTER = (
    "Skip to content\n"
    "We use cookies to improve your experience, see our cookie policy for details.\n"
    "Privacy policy | Terms of use | Cookie policy | Accessibility statement\n"
    "Subscribe to our newsletter for weekly updates and special offers.\n"
    "Copyright © 2024 Example Corporation. All rights reserved."
)
MENU = "\n".join(
    ["Home", "World news", "Business", "Technology", "Science", "Health", "Sport", "Travel"] * 4
)


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("too_short", "A short but otherwise fine sentence."),
        ("too_long", prose(60)),
        ("uppercase", prose(5).upper()),
        ("boilerplate", FOOTER),
        ("boilerplate", MENU),
        ("repetitive", prose(4) + " Sentence a1 talks about topica1 and ideaa1 in some depth."),
    ],
)
def test_each_filter_drops_its_crafted_segment_and_counts_the_reason(reason, text):
    assert filter_segments([seg(text)], DEFAULT) == ([], Counter({reason: 1}))


def test_a_plain_segment_passes_every_filter():
    control = seg(prose(5))
    assert 200 <= len(control.text) <= 3000
    assert filter_segments([control], DEFAULT) == ([control], Counter())


def test_the_length_limits_are_inclusive():
    text = prose(5)
    exact = SegmentFilter(min_chars=len(text), max_chars=len(text))
    assert filter_segments([seg(text)], exact)[0] == [seg(text)]
    longer = SegmentFilter(min_chars=len(text) + 1, max_chars=len(text) + 1)
    shorter = SegmentFilter(min_chars=0, max_chars=len(text) - 1)
    assert filter_segments([seg(text)], longer)[1] == Counter({"too_short": 1})
    assert filter_segments([seg(text)], shorter)[1] == Counter({"too_long": 1})


def test_uppercase_counts_the_share_of_cased_letters():
    # 30 of 50 letters uppercase (60%); digits and punctuation do not count
    text = ("ABC de " * 10).strip() + " 1234567890 !!! " + "." * 200
    assert filter_segments([seg(text)], SegmentFilter(max_uppercase=0.6))[0] == [seg(text)]
    assert filter_segments([seg(text)], SegmentFilter(max_uppercase=0.59))[1] == Counter(
        {"uppercase": 1}
    )


def test_a_boilerplate_line_among_prose_lines_is_kept_and_the_rule_can_be_turned_off():
    mixed = "\n".join([prose(2, "x"), "Read our privacy policy.", prose(2, "y"), prose(2, "z")])
    assert filter_segments([seg(mixed)], DEFAULT)[0] == [seg(mixed)]
    keep_all = SegmentFilter(drop_boilerplate=False)
    assert filter_segments([seg(FOOTER)], keep_all) == ([seg(FOOTER)], Counter())


def test_a_long_line_mentioning_a_boilerplate_phrase_is_prose():
    text = (
        "Our privacy policy explains in plain words which data the library keeps about its "
        "readers, why it needs that data and how long it stays on the servers.\n"
        "Anyone who wants to subscribe to the printed newsletter can ask at the front desk, "
        "where volunteers take names and addresses on paper forms every weekday morning."
    )
    assert filter_segments([seg(text)], DEFAULT)[0] == [seg(text)]


def test_boilerplate_needs_more_than_half_of_the_lines():
    half = "Rivers\n" + prose(4)  # one short item of two lines
    assert filter_segments([seg(half)], DEFAULT)[0] == [seg(half)]


def test_a_heading_line_is_not_a_menu_item():
    section = "# Rivers\n## Deltas\n" + prose(4)
    assert filter_segments([seg(section)], DEFAULT)[0] == [seg(section)]
    titled = "Rivers\nDeltas\n" + prose(4)  # two of three lines are short items
    assert filter_segments([seg(titled)], DEFAULT)[1] == Counter({"boilerplate": 1})


def test_sentence_overlap_uses_word_ngrams_and_short_sentences_use_their_words():
    assert max_sentence_overlap("One sentence only here.", 3) == 0.0
    assert max_sentence_overlap("Click now! Click now? Fine.", 3) == 1.0
    # 3-grams {a b c, b c d} and {b c d, c d e}: 1 shared of 3
    assert max_sentence_overlap("a b c d. b c d e.", 3) == pytest.approx(1 / 3)
    assert max_sentence_overlap("a b c d. b c d e.", 1) == pytest.approx(3 / 5)
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_the_repetition_threshold_is_the_sentence_overlap():
    text = prose(4) + " Sentence a1 talks about topica1 and ideaa1 in great depth."
    overlap = max_sentence_overlap(text, 3)
    assert 0.5 < overlap < 1
    assert filter_segments([seg(text)], SegmentFilter(max_sentence_overlap=overlap))[0] == [
        seg(text)
    ]
    assert filter_segments([seg(text)], DEFAULT)[1] == Counter({"repetitive": 1})


def test_near_duplicates_keep_the_first_and_distinct_segments_pass():
    first = seg(prose(6), "d:p1")
    copy = seg(prose(6).replace("some depth.", "SOME depth!"), "d:p2")  # same words
    close = seg(prose(6).replace("ideaa5", "another idea"), "d:p3")  # a few n-grams differ
    other = seg(prose(6, "b"), "d:p4")
    kept, drops = filter_segments([first, copy, close, other], DEFAULT)
    assert kept == [first, other]
    assert drops == Counter({"near_duplicate": 2})


def test_near_duplicates_compare_with_kept_segments_only():
    shouting = seg(prose(5).upper(), "d:p1")  # same words as the next, but dropped
    plain = seg(prose(5), "d:p2")
    assert filter_segments([shouting, plain], DEFAULT) == ([plain], Counter({"uppercase": 1}))


def test_the_duplicate_threshold_is_strict():
    words = [f"w{i}" for i in range(100)]
    a = seg(" ".join(words), "d:p1")
    b = seg(" ".join(words[:90] + [f"x{i}" for i in range(10)]), "d:p2")
    share = 88 / 108  # 98 3-grams each, 88 shared
    rules = SegmentFilter(min_chars=0, max_duplicate_overlap=share)
    assert filter_segments([a, b], rules)[0] == [a, b]
    lower = SegmentFilter(min_chars=0, max_duplicate_overlap=share - 0.01)
    assert filter_segments([a, b], lower) == ([a], Counter({"near_duplicate": 1}))


def brute_force_kept(segments: list[Segment], rules: SegmentFilter) -> list[str]:
    """Ids kept by comparing each segment with every kept one (word 3-grams)."""
    kept: list[tuple[str, frozenset]] = []
    for s in segments:
        words = s.text.lower().split()
        grams = frozenset(zip(words, words[1:], words[2:], strict=False)) or frozenset(words)
        if all(jaccard(grams, g) <= rules.max_duplicate_overlap for _, g in kept):
            kept.append((s.id, grams))
    return [i for i, _ in kept]


@pytest.mark.parametrize("limit", [0.0, 0.3, 0.5, 0.8, 0.95, 1.0])
def test_near_duplicates_agree_with_comparing_every_pair(limit):
    rng = random.Random(limit)
    bases = [[f"w{rng.randrange(40)}" for _ in range(rng.randrange(1, 30))] for _ in range(5)]
    segments = []
    for i in range(60):
        words = list(rng.choice(bases))
        for _ in range(rng.randrange(4)):
            words[rng.randrange(len(words))] = f"w{rng.randrange(40)}"
        segments.append(seg(" ".join(words), f"d:p{i}"))
    rules = SegmentFilter(min_chars=0, drop_boilerplate=False, max_duplicate_overlap=limit)
    kept, drops = filter_segments(segments, rules)
    assert [s.id for s in kept] == brute_force_kept(segments, rules)
    assert drops["near_duplicate"] == len(segments) - len(kept)


@pytest.mark.parametrize(
    ("text", "reason", "relaxed", "next_reason"),
    [
        ("SKIP TO CONTENT\nPRIVACY POLICY\nHOME", "too_short", {"min_chars": 0}, "uppercase"),
        (prose(60).upper(), "too_long", {"max_chars": 10_000}, "uppercase"),
        (FOOTER.upper(), "uppercase", {"max_uppercase": 1.0}, "boilerplate"),
        (FOOTER + "\n" + FOOTER, "boilerplate", {"drop_boilerplate": False}, "repetitive"),
    ],
)
def test_the_first_failing_reason_is_the_one_counted(text, reason, relaxed, next_reason):
    assert filter_segments([seg(text)], DEFAULT)[1] == Counter({reason: 1})
    assert filter_segments([seg(text)], SegmentFilter(**relaxed))[1] == Counter({next_reason: 1})


def test_a_near_duplicate_failing_an_earlier_filter_counts_that_filter():
    first = seg(prose(6), "d:p1")
    again_but_long = seg(prose(6) + " " + prose(60, "z"), "d:p2")
    again = seg(prose(6), "d:p3")
    assert filter_segments([first, again_but_long, again], DEFAULT)[1] == Counter(
        {"too_long": 1, "near_duplicate": 1}
    )


def test_reasons_are_listed_in_the_order_they_are_tried():
    assert REASONS == (
        "too_short",
        "too_long",
        "uppercase",
        "boilerplate",
        "repetitive",
        "near_duplicate",
    )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"min_chars": -1}, "min_chars"),
        ({"min_chars": 50, "max_chars": 10}, "max_chars"),
        ({"min_chars": 1.5}, "min_chars"),
        ({"ngram": 0}, "ngram"),
        ({"max_sentence_overlap": -0.1}, "max_sentence_overlap"),
        ({"max_duplicate_overlap": "high"}, "max_duplicate_overlap"),
        ({"max_uppercase": 1.5}, "max_uppercase"),
        ({"drop_boilerplate": "yes"}, "drop_boilerplate"),
    ],
)
def test_bad_filter_values_name_the_field(values, field):
    with pytest.raises(CookbookError, match=rf"SegmentFilter\.{field} must"):
        SegmentFilter(**values)


# --- bad inputs ---------------------------------------------------------------------------


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(CookbookError, match=f"{at(missing)}: no such file"):
        read_texts(missing)
    with pytest.raises(CookbookError, match="no such file"):
        read_segments(missing)


def test_a_folder_without_readable_files_is_an_error_naming_it(tmp_path):
    write(tmp_path / "table.csv", "a,b")
    with pytest.raises(CookbookError, match=f"{at(tmp_path)}: folder has no .txt"):
        read_segments(tmp_path)


def test_a_file_of_another_kind_is_an_error(tmp_path):
    path = write(tmp_path / "table.csv", "a,b")
    with pytest.raises(CookbookError, match=f"{at(path)}: cannot read .csv"):
        read_segments(path)


def test_a_jsonl_row_without_the_text_field_names_file_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"body": "ok"}, {"text": "wrong field"}])
    with pytest.raises(CookbookError, match=f"{at(path)}:2: missing field 'body'"):
        read_segments(path, text_field="body")


def test_a_non_string_text_names_file_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"text": 42}])
    with pytest.raises(CookbookError, match=f"{at(path)}:1: field 'text' must be a str, not int"):
        read_segments(path)


def test_bad_jsonl_syntax_names_the_line(tmp_path):
    path = write(tmp_path / "data.jsonl", '{"text": "ok"}\n{"text": \n')
    with pytest.raises(CookbookError, match=f"{at(path)}:2: not valid JSON"):
        read_segments(path)


@pytest.mark.parametrize(
    ("document", "place"),
    [
        ([1, 2], "expected an object with a 'data' list"),
        ({"data": [{"title": "no paragraphs"}]}, r"data\[0\] needs a 'paragraphs' list"),
        (
            {"data": [{"paragraphs": [{"context": "ok"}]}, {"paragraphs": [{}, {"context": 7}]}]},
            r"data\[1\]\.paragraphs\[0\]\.context must be a string",
        ),
    ],
)
def test_a_json_file_that_is_not_squad_shaped_names_the_place(tmp_path, document, place):
    path = write(tmp_path / "squad.json", json.dumps(document))
    with pytest.raises(CookbookError, match=f"{at(path)}: not SQuAD format: {place}"):
        read_segments(path)


def test_undecodable_text_names_the_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CookbookError, match=f"{at(path)}: not UTF-8 text"):
        read_segments(path)


def test_an_empty_corpus_is_an_error_naming_the_path(tmp_path):
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"text": ""}, {"text": " \n\n "}])
    with pytest.raises(CookbookError, match=f"{at(blank)}: 2 document.* no non-empty text segment"):
        read_segments(blank)
    no_docs = write(tmp_path / "squad.json", json.dumps({"data": []}))
    with pytest.raises(CookbookError, match=f"{at(no_docs)}: no documents"):
        read_segments(no_docs)
    nothing = write(tmp_path / "empty.jsonl", "\n")
    with pytest.raises(CookbookError, match=f"{at(nothing)}: no documents"):
        read_segments(nothing)


# --- drop counts --------------------------------------------------------------------------


def test_describe_drops_lists_reasons_in_order_without_zeros():
    counts = Counter({"near_duplicate": 3, "too_short": 12, "uppercase": 0})
    assert describe_drops(counts) == "12 too_short, 3 near_duplicate"
    assert describe_drops(Counter()) == "none"
    assert describe_drops(Counter({"boilerplate": 0})) == "none"
