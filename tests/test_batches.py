"""Batch generation gives exactly the per-sample records, and fails clearly when it does not."""

import json

import numpy as np
import pytest

from cookbook import BatchRandom, CookbookError, SampleRandom, TokenRuns, template
from cookbook.contract.batches import _numbers_text
from cookbook.contract.seeding import KeyMaker
from cookbook.contract.tokens import TokenSpace
from cookbook.engine.generation import Job, generate
from cookbook.engine.samples import SampleMaker
from cookbook.engine.token_spaces import builtin_token_space
from cookbook.registry import get_registry

ODD_WORDS = ['say"hi', "back\\slash", "café", "naïve", "x{y}", "plain", "数字"]
# Escaped lengths from 1 to 66 bytes: token rows 128 bytes wide, most of each row padding.
LONG_WORDS = ["a", "bb", "c" * 15, "d" * 16, "e" * 40, "数" * 11, '"' * 33, "f\\g" * 5]
SPACES = {"odd": ODD_WORDS, "long": LONG_WORDS}


def _tokens(space: str) -> TokenSpace:
    """The built-in token space ``space``, or one of the test vocabularies above."""
    return builtin_token_space(space) or TokenSpace(space, SPACES[space])


def test_batch_draws_match_each_sample_stream():
    keys = KeyMaker(3, "t", {}).keys(10, 60)
    batch = BatchRandom(keys)
    highs = np.arange(50) % 7 + 1
    drawn = {
        "next64": batch.next64(),
        "randint": batch.randint(-(np.arange(50) % 5), highs),
        "bits": batch.getrandbits(5),
        "random": batch.random(),
        "integers": batch.integers(1000, np.arange(50) % 4),
        "after": batch.randint(2, 9),
    }
    for j, key in enumerate(keys.tolist()):
        assert key == KeyMaker(3, "t", {}).key(10 + j)
        rng = SampleRandom(key)
        assert rng.next64() == drawn["next64"][j]
        assert rng.randint(-(j % 5), int(highs[j])) == drawn["randint"][j]
        assert rng.getrandbits(5) == drawn["bits"][j]
        assert rng.random() == drawn["random"][j]
        values, offsets = drawn["integers"]
        expected = rng.integers(1000, j % 4)
        assert values.dtype == expected.dtype == np.int64
        assert values[offsets[j] : offsets[j + 1]].tolist() == expected.tolist()
        assert rng.randint(2, 9) == drawn["after"][j]


def test_token_spaces_reject_words_with_white_space():
    with pytest.raises(CookbookError, match=r"word 'tab\\tin' is empty or contains white space"):
        len(TokenSpace("tabs", ["plain", "tab\tin"]).words)


def test_batch_randint_rejects_an_empty_range():
    with pytest.raises(ValueError, match="empty range"):
        BatchRandom(np.arange(3, dtype=np.uint64)).randint(5, 4)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"side": "after", "min_words": 5, "max_words": 9, "k": 1},
        {"side": "before", "k": 4, "min_question": 1, "max_question": 1},
        {"question_noise": 0.5, "max_question": 9},
        {"prompt": '{{literal}} "quoted" \\ é {question}\t{document}', "completion": "{answer}!"},
    ],
)
@pytest.mark.parametrize("space", ["pseudowords", "odd", "long"])
def test_document_qa_batch_lines_equal_per_sample_lines(overrides, space):
    tokens = _tokens(space)
    qa = get_registry().get("templates", "document_qa")
    maker = SampleMaker(qa, "document_qa", qa.resolve(overrides), 11, tokens)
    expected = [maker.line(i) for i in range(5, 400)]
    assert maker.lines(5, 400) == [line.encode() for line in expected]
    assert maker.jsonl(5, 400) == "".join(expected).encode()
    assert all(json.loads(line)["index"] == i for i, line in enumerate(expected, 5))


def test_callable_prompts_fall_back_to_the_per_sample_path():
    qa = get_registry().get("templates", "document_qa")
    params = qa.resolve()
    tokens = builtin_token_space("pseudowords")
    maker = SampleMaker(qa, "document_qa", params, 0, tokens)
    maker._prompt = lambda slots: slots["question"].upper()
    assert maker.lines(0, 50) == [maker.line(i).encode() for i in range(50)]


def _pairs(rng, tokens, length: int = 3):
    return {"words": tokens.text(rng, length)}


def _make_pairs(batch):
    pairs = template(prompt="Words: {words}\nAnswer:", rule=lambda slots: slots["words"])(_pairs)
    pairs.name = "pairs"
    pairs.batch(batch)
    return pairs


def _good_batch(rng, tokens, length: int = 3):
    ids, offsets = tokens.draw_batch(rng, np.full(rng.n, length))
    runs = TokenRuns(ids, offsets[:-1], offsets[1:])
    return {"words": runs, "answer": runs}


def test_a_plugin_batch_generator_is_used_and_checked():
    tokens = builtin_token_space("pseudowords")
    pairs = _make_pairs(_good_batch)
    maker = SampleMaker(pairs, "pairs", pairs.resolve({"length": 5}), 2, tokens)
    assert maker.lines(0, 100) == [maker.line(i).encode() for i in range(100)]


def test_a_batch_generator_that_draws_differently_is_an_error():
    def skips_a_draw(rng, tokens, length: int = 3):
        rng.next64()
        return _good_batch(rng, tokens, length)

    pairs = _make_pairs(skips_a_draw)
    maker = SampleMaker(pairs, "pairs", pairs.resolve(), 0, builtin_token_space("pseudowords"))
    with pytest.raises(CookbookError, match="'pairs': its batch generator disagrees .* sample 7"):
        maker.lines(7, 20)


def test_a_batch_generator_with_other_slots_is_an_error():
    def renamed(rng, tokens, length: int = 3):
        return {"answer": _good_batch(rng, tokens, length)["words"], "words": [""] * rng.n}

    pairs = _make_pairs(renamed)
    maker = SampleMaker(pairs, "pairs", pairs.resolve(), 0, builtin_token_space("pseudowords"))
    with pytest.raises(CookbookError, match=r"returned slots \['answer', 'words'\]"):
        maker.lines(0, 20)


def test_a_failing_batch_generator_names_the_template_and_samples():
    def broken(rng, tokens, length: int = 3):
        raise RuntimeError("boom")

    pairs = _make_pairs(broken)
    maker = SampleMaker(pairs, "pairs", pairs.resolve(), 0, builtin_token_space("pseudowords"))
    with pytest.raises(CookbookError, match="'pairs': batch generator failed on samples 0-9"):
        maker.lines(0, 10)


def test_generated_file_is_the_per_sample_records_in_order(tmp_path):
    qa = get_registry().get("templates", "document_qa")
    params = qa.resolve({"side": "after"})
    generate([Job("document_qa", 5000, params)], 4, tmp_path / "out.jsonl", workers=1)
    maker = SampleMaker(qa, "document_qa", params, 4, builtin_token_space("pseudowords"))
    lines = (tmp_path / "out.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 5000
    for i in (0, 2047, 2048, 4999):
        assert lines[i] == maker.line(i)


def test_runs_may_be_empty_overlap_and_come_in_any_order():
    def _prefix(rng, tokens, length: int = 5):
        words = tokens.draw(rng, length)
        cut = rng.randint(0, length)
        return {"words": " ".join(words), "cut": cut}

    def _prefix_batch(rng, tokens, length: int = 5):
        ids, offsets = tokens.draw_batch(rng, np.full(rng.n, length))
        cut = rng.randint(0, length)
        words = TokenRuns(ids, offsets[:-1], offsets[1:])
        prefix = TokenRuns(ids, offsets[:-1], offsets[:-1] + cut)
        return {"words": words, "cut": cut, "answer": prefix}

    prefix = template(
        prompt="{words} / {cut}",
        rule=lambda slots: " ".join(slots["words"].split()[: slots["cut"]]),
    )(_prefix)
    prefix.name = "prefix"
    prefix.batch(_prefix_batch)
    maker = SampleMaker(prefix, "prefix", prefix.resolve(), 1, builtin_token_space("pseudowords"))
    lines = maker.lines(0, 300)
    assert lines == [maker.line(i).encode() for i in range(300)]
    assert any(b'"answer":""' in line for line in lines)


def test_runs_over_few_of_their_ids_and_runs_sharing_ids_give_the_per_sample_lines():
    def _pool(rng, tokens, size: int = 12):
        pool = tokens.draw(rng, size)
        first = rng.randint(0, size - 2)
        count = rng.randint(0, 1500)  # crosses the small-number table's end
        return {"pick": " ".join(pool[first : first + 2]), "count": count, "pool": " ".join(pool)}

    def _pool_batch(rng, tokens, size: int = 12):
        ids, offsets = tokens.draw_batch(rng, np.full(rng.n, size))
        first = offsets[:-1] + rng.randint(0, size - 2)
        count = rng.randint(0, 1500)
        pick = TokenRuns(ids, first, first + 2)  # a sixth of the ids: gathered first
        whole = TokenRuns(ids, offsets[:-1], offsets[1:])
        return {"pick": pick, "count": count, "pool": whole, "answer": whole}

    pool = template(prompt="{pick} {count}", rule=lambda slots: slots["pool"])(_pool)
    pool.name = "pool"
    pool.batch(_pool_batch)
    for space in ("pseudowords", "odd"):
        maker = SampleMaker(pool, "pool", pool.resolve(), 5, _tokens(space))
        lines = maker.lines(0, 400)
        assert lines == [maker.line(i).encode() for i in range(400)]
        assert any(b'"count":1' in line and b'"count":10' not in line for line in lines)


def test_run_ids_lists_each_runs_ids_in_turn():
    runs = TokenRuns(np.array([10, 11, 12, 13, 14]), np.array([3, 0, 2, 1]), np.array([5, 2, 2, 3]))
    assert runs.run_ids().tolist() == [13, 14, 10, 11, 11, 12]
    assert TokenRuns(np.array([1]), np.array([], int), np.array([], int)).run_ids().tolist() == []


def test_token_rows_hold_each_escaped_word_then_a_space():
    rows, sizes = TokenSpace("long", LONG_WORDS).escaped_rows
    assert rows.itemsize == 128  # 66 bytes and a space, rounded up
    for word, row, size in zip(LONG_WORDS, rows.tolist(), sizes, strict=True):
        escaped = json.dumps(word)[1:-1].encode()
        assert size == len(escaped) + 1
        assert row == escaped + b" " + bytes(128 - size)


def test_numbers_are_written_as_json_writes_them():
    values = [0, 7, -7, 10, 99, 100, -100, 123456789, 2**63 - 1, -(2**63), -1]
    assert _numbers_text(np.array(values)) == [json.dumps(v).encode() for v in values]
    assert _numbers_text(np.array([2**64 - 1], dtype=np.uint64)) == [b"18446744073709551615"]
    assert _numbers_text(np.array([], dtype=np.int64)) == []
    for top in (1023, 1024, 1025):  # small numbers are looked up in a table of 1,024
        values = np.arange(top + 1, dtype=np.uint16)
        assert _numbers_text(values) == [str(v).encode() for v in range(top + 1)]


def test_token_ids_outside_the_vocabulary_are_an_error_naming_the_slot():
    def out_of_range(rng, tokens, length: int = 3):
        columns = _good_batch(rng, tokens, length)
        ids = columns["words"].ids.copy()
        ids[5] = len(tokens.words)
        columns["words"] = TokenRuns(ids, columns["words"].starts, columns["words"].ends)
        return columns

    pairs = _make_pairs(out_of_range)
    maker = SampleMaker(pairs, "pairs", pairs.resolve(), 0, builtin_token_space("pseudowords"))
    with pytest.raises(
        CookbookError, match=r"'pairs' slot 'words': token ids must be in 0\.\.8191"
    ):
        maker.lines(0, 20)


def test_token_ids_that_are_not_integers_are_an_error_naming_the_slot():
    def floats(rng, tokens, length: int = 3):
        columns = _good_batch(rng, tokens, length)
        runs = columns["words"]
        columns["words"] = TokenRuns(runs.ids.astype(float), runs.starts, runs.ends)
        return columns

    pairs = _make_pairs(floats)
    maker = SampleMaker(pairs, "pairs", pairs.resolve(), 0, builtin_token_space("pseudowords"))
    with pytest.raises(CookbookError, match="'words': token ids must be integers, not float64"):
        maker.lines(0, 20)
