"""Mixing data and maths: score matrices, CSV files, exact sample counts, mixture files, the
alignment and proxy score sources, and the linearity check."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from cookbook import TaskRecord, template
from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing import (
    ScoreMatrix,
    alignment_matrix,
    check_linearity,
    example_slots,
    largest_remainder,
    learn_mixture,
    linearity_report,
    map_slots,
    mixture_document,
    predicted,
    proxy_matrix,
    read_measurements_csv,
    read_mixture,
    read_scores_csv,
    write_mixture,
    write_scores_csv,
)
from cookbook_plugins.qa.document_qa import document_qa


def write(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------- score matrices and CSV


def test_score_matrix_rejects_duplicates_bad_shapes_and_non_finite_values():
    with pytest.raises(CookbookError, match="duplicate template 'a'"):
        ScoreMatrix(("t",), ("a", "a"), [[1, 2]])
    with pytest.raises(CookbookError, match="shape"):
        ScoreMatrix(("t", "u"), ("a",), [[1, 2]])
    with pytest.raises(CookbookError, match="task 'u' under template 'b'"):
        ScoreMatrix(("t", "u"), ("a", "b"), [[1, 2], [3, float("nan")]])
    with pytest.raises(CookbookError, match="scores.u: has no score for template 'b'"):
        ScoreMatrix.from_mapping({"t": {"a": 1, "b": 2}, "u": {"a": 1}})


def test_read_scores_csv_reads_tasks_and_templates_in_file_order(tmp_path):
    path = write(tmp_path / "s.csv", "task,qa,choice\nsquad,0.6,0.1\n\npiqa,-0.05,0.3\n")
    matrix = read_scores_csv(path)
    assert matrix.tasks == ("squad", "piqa")
    assert matrix.templates == ("qa", "choice")
    assert matrix.as_mapping() == {
        "squad": {"qa": 0.6, "choice": 0.1},
        "piqa": {"qa": -0.05, "choice": 0.3},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("name,a\nt,1\n", ":1: column 1: the header must start with 'task'"),
        ("task,a,a\nt,1,2\n", ":1: column 3: duplicate template 'a'"),
        ("task,a,b\nt,1,2\nu,1\n", ":3: expected 3 cells, found 2"),
        ("task,a,b\nt,1,2\nu,1,high\n", r":3: column 3 \(b\): 'high' is not a number"),
        ("task,a,b\nt,1,2\nt,1,2\n", ":3: column 1: duplicate task 't'"),
        ("task,a\n", "no task rows"),
    ],
)
def test_read_scores_csv_errors_name_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(CookbookError, match=f"bad.csv{message}" if message[0] == ":" else message):
        read_scores_csv(path)


def test_read_scores_csv_missing_or_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(CookbookError, match="no such file"):
        read_scores_csv(tmp_path / "absent.csv")
    binary = tmp_path / "scores.csv"
    binary.write_bytes(b"task,a\nt,\xff\xfe\n")
    with pytest.raises(CookbookError, match="scores.csv: not UTF-8 text"):
        read_scores_csv(binary)


def test_read_scores_csv_accepts_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("task,a\nt,0.5\n".encode("utf-8-sig"))
    assert read_scores_csv(path).as_mapping() == {"t": {"a": 0.5}}


def test_write_scores_csv_round_trips(tmp_path):
    matrix = ScoreMatrix(("t", "u"), ("a", "b"), [[0.1, 1 / 3], [2.0, -0.5]])
    write_scores_csv(matrix, tmp_path / "out" / "s.csv")
    again = read_scores_csv(tmp_path / "out" / "s.csv")
    assert again.as_mapping() == matrix.as_mapping()


# ---------------------------------------------------------------- maths


def test_predicted_scores_follow_the_linear_mixing_assumption():
    scores = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.2, "b": 0.6}}
    assert predicted({"a": 0.25, "b": 0.75}, scores) == pytest.approx({"t1": 0.25, "t2": 0.5})
    assert predicted({"b": 1.0}, scores) == {"t1": 0.0, "t2": 0.6}
    with pytest.raises(CookbookError, match="template 'c' is not in the score matrix"):
        predicted({"c": 1.0}, scores)


# ---------------------------------------------------------------- largest remainder


def test_largest_remainder_gives_the_leftover_to_the_largest_fractions():
    # Quotas 3.5, 2.1, 1.4: floors 3, 2, 1 and the one left over goes to the 0.5 fraction.
    assert largest_remainder({"a": 0.5, "b": 0.3, "c": 0.2}, 7) == {"a": 4, "b": 2, "c": 1}
    assert largest_remainder({"a": 0.5, "b": 0.5}, 0) == {"a": 0, "b": 0}


def test_largest_remainder_sums_exactly_for_any_weights_and_total():
    rng = random.Random(11)
    for _ in range(200):
        names = [f"t{i}" for i in range(rng.randint(1, 40))]
        weights = {n: rng.random() * (rng.random() > 0.2) for n in names}
        weights[names[0]] += 0.01
        total = rng.randint(0, 10_000)
        counts = largest_remainder(weights, total)
        assert sum(counts.values()) == total
        mass = sum(weights.values())
        for n in names:
            assert abs(counts[n] - weights[n] * total / mass) < 1 + 1e-9


def test_largest_remainder_ties_are_broken_by_weight_then_name_whatever_the_order():
    equal = {"c": 1 / 3, "a": 1 / 3, "b": 1 / 3}
    assert largest_remainder(equal, 10) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainder(dict(reversed(list(equal.items()))), 10) == {"a": 4, "b": 3, "c": 3}
    # Fractions tie at 0.5; the larger weight wins.
    assert largest_remainder({"x": 0.1, "y": 0.3}, 2) == {"x": 0, "y": 2}
    # Float noise (0.1 + 0.2 != 0.3) does not break a tie.
    assert largest_remainder({"b": 0.1 + 0.2, "a": 0.3, "c": 0.4}, 5) == {"a": 2, "b": 1, "c": 2}


def test_largest_remainder_rejects_bad_weights_and_totals():
    with pytest.raises(CookbookError, match="weights.a: must be a number >= 0"):
        largest_remainder({"a": -0.1, "b": 1.1}, 10)
    with pytest.raises(CookbookError, match="at least one template"):
        largest_remainder({"a": 0.0}, 10)
    with pytest.raises(CookbookError, match="total must be an integer >= 0"):
        largest_remainder({"a": 1.0}, -1)


# ---------------------------------------------------------------- mixture files


SCORES = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.0, "b": 2.0}}


def test_mixture_file_round_trips_with_predictions_and_counts(tmp_path):
    document = mixture_document(
        {"a": 2 / 3, "b": 1 / 3},
        SCORES,
        mixer="cvxpy",
        source="file",
        params={"objective": "maxmin"},
        objective=2 / 3,
        objective_name="maxmin",
        total=10,
    )
    assert document["predicted"] == pytest.approx({"t1": 2 / 3, "t2": 2 / 3})
    assert document["uniform_predicted"] == {"t1": 0.5, "t2": 1.0}
    assert document["counts"] == {"a": 7, "b": 3}
    path = tmp_path / "run" / "mixture.json"
    write_mixture(path, document)
    assert read_mixture(path) == document
    assert [p.name for p in path.parent.iterdir()] == ["mixture.json"]


def test_invalid_mixture_is_rejected_and_nothing_is_written(tmp_path):
    document = mixture_document({"a": 0.5, "b": 0.5}, SCORES, mixer="uniform", source="file")
    path = tmp_path / "mixture.json"
    with pytest.raises(CookbookError, match=r"mixture.json: weights.a: 1.5 is greater than"):
        write_mixture(path, {**document, "weights": {"a": 1.5, "b": 0.5}})
    with pytest.raises(CookbookError, match="mixture.json: source: 'guess' is not one of"):
        write_mixture(path, {**document, "source": "guess"})
    with pytest.raises(CookbookError, match="weights: they sum to 0.8, not 1"):
        write_mixture(path, {**document, "weights": {"a": 0.4, "b": 0.4}})
    assert list(tmp_path.iterdir()) == []


def test_learn_mixture_runs_a_registered_mixer_into_a_document():
    document = learn_mixture(SCORES, "cvxpy", {"objective": "maxmin"}, source="alignment")
    assert document["weights"] == pytest.approx({"a": 2 / 3, "b": 1 / 3}, abs=1e-6)
    assert document["objective"] == pytest.approx(2 / 3, abs=1e-6)
    assert document["params"]["objective"] == "maxmin" and document["source"] == "alignment"
    uniform = learn_mixture(SCORES, "uniform", source="file", total=3)
    assert uniform["objective"] is None and uniform["objective_name"] is None
    assert uniform["counts"] == {"a": 2, "b": 1}


def test_a_fixed_mixture_needs_no_scores():
    document = learn_mixture(None, "fixed", {"weights": {"x": 1, "y": 3}}, source="file")
    assert document["weights"] == {"x": 0.25, "y": 0.75}
    assert document["predicted"] == {} and document["uniform_predicted"] == {}


def test_read_mixture_errors_name_the_file_line_and_json_path(tmp_path):
    bad_json = write(tmp_path / "m.json", '{\n  "weights": \n}')
    with pytest.raises(CookbookError, match="m.json:3: not valid JSON"):
        read_mixture(bad_json)
    missing = write(tmp_path / "n.json", json.dumps({"weights": {"a": 1.0}}))
    with pytest.raises(CookbookError, match=r"n.json: \(top level\): 'mixer' is a required"):
        read_mixture(missing)


# ---------------------------------------------------------------- alignment source


@template(prompt="Words: {words}\nFirst:", rule=lambda slots: slots["words"].split()[0])
def first_word(rng, tokens):
    return {"words": tokens.text(rng, 4)}


@template(prompt="Words: {words}\nLast:", rule=lambda slots: slots["words"].split()[-1])
def last_word(rng, tokens):
    return {"words": tokens.text(rng, 4)}


def records(answer_index: int) -> list[TaskRecord]:
    texts = ["red green blue", "one two three four", "sun moon"]
    return [
        TaskRecord(id=str(i), slots={"words": t}, answers=[t.split()[answer_index]])
        for i, t in enumerate(texts)
    ]


def test_alignment_matrix_scores_each_task_under_each_template():
    matrix = alignment_matrix({"firsts": records(0), "lasts": records(-1)}, [first_word, last_word])
    assert matrix.tasks == ("firsts", "lasts")
    assert matrix.templates == ("first_word", "last_word")
    assert matrix.values.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_alignment_takes_the_best_gold_answer_and_the_mean_over_records():
    mixed = [
        TaskRecord(id="0", slots={"words": "red green blue"}, answers=["blue", "red"]),
        TaskRecord(id="1", slots={"words": "sun moon"}, answers=["moon"]),
    ]
    matrix = alignment_matrix({"mixed": mixed}, {"first": first_word})
    assert matrix.values.tolist() == [[0.5]]


def test_slots_of_another_template_map_by_name_then_by_type_and_never_invent_hidden_ones():
    record = {"context": "alpha beta gamma delta", "question": "beta", "options": ["x", "y"]}
    mapped = map_slots(record, document_qa, example_slots(document_qa))
    assert mapped["document"] == "alpha beta gamma delta"
    assert mapped["question"] == "beta"
    assert "position" not in mapped and "side" not in mapped
    # A template slot with no counterpart in the record stays absent.
    assert "words" not in map_slots({"options": ["x"]}, first_word, example_slots(first_word))


def test_alignment_across_templates_maps_spare_text_and_scores_unreadable_records_zero():
    qa = [
        TaskRecord(
            id="0",
            slots={"document": "alpha beta gamma delta epsilon", "question": "gamma delta"},
            answers=["alpha beta"],
        )
    ]
    matrix = alignment_matrix({"qa": qa, "firsts": records(0)}, [document_qa, first_word])
    assert matrix.values[0, 0] == 1.0  # "alpha beta" sits right before the question's span
    # first_word reads the QA record's document as its words: F1("alpha beta", "alpha").
    assert matrix.values[0, 1] == pytest.approx(2 / 3)
    # A word list fills document_qa's document but has no question: 0, not an error.
    assert matrix.values[1, 0] == 0.0


# ---------------------------------------------------------------- proxy source


def test_proxy_matrix_is_metric_minus_base_and_cached_per_template(tmp_path):
    trained: list[str] = []
    gains = {"a": {"t1": 0.3, "t2": 0.0}, "b": {"t1": 0.1, "t2": 0.5}}

    def train(name):
        trained.append(name)
        return name

    def evaluate(model):
        base = {"t1": 0.2, "t2": 0.4}
        return base if model is None else {t: base[t] + gains[model][t] for t in base}

    kwargs = {"cache_dir": tmp_path / "cache", "fingerprint": "model-x"}
    matrix = proxy_matrix(["t1", "t2"], ["a", "b"], train, evaluate, **kwargs)
    assert matrix.templates == ("a", "b")
    assert matrix.values == pytest.approx(np.array([[0.3, 0.1], [0.0, 0.5]]))
    assert trained == ["a", "b"]
    again = proxy_matrix(["t1", "t2"], ["a", "b"], train, evaluate, **kwargs)
    assert trained == ["a", "b"]
    assert again.values.tolist() == matrix.values.tolist()
    proxy_matrix(["t1"], ["b"], train, evaluate, cache_dir=kwargs["cache_dir"], fingerprint="y")
    assert trained == ["a", "b", "b"]


def test_an_unreadable_proxy_cache_file_is_recomputed(tmp_path):
    runs = []

    def evaluate(model):
        runs.append(model)
        return {"t": 1.0 if model else 0.5}

    proxy_matrix(["t"], ["a"], str, evaluate, cache_dir=tmp_path)
    for file in tmp_path.iterdir():
        file.write_text("{not json")
    again = proxy_matrix(["t"], ["a"], str, evaluate, cache_dir=tmp_path)
    assert runs == [None, "a", None, "a"]
    assert again.values.tolist() == [[0.5]]


def test_proxy_matrix_needs_a_score_for_every_task():
    with pytest.raises(CookbookError, match="proxy run 'a': the evaluation has no score for 't2'"):
        proxy_matrix(["t1", "t2"], ["a"], str, lambda m: {"t1": 0.0} if m else {"t1": 0, "t2": 0})


# ---------------------------------------------------------------- linearity


def test_linearity_report_compares_pairs_with_the_average_of_singles():
    report = linearity_report(
        {
            "a": {"t1": 0.40, "t2": 0.10},
            "b": {"t1": 0.20, "t2": 0.30},
            "a+b": {"t1": 0.33, "t2": 0.20},
        }
    )
    assert [(r.task, round(r.deviation, 9)) for r in report.rows] == [("t1", 0.03), ("t2", 0.0)]
    assert report.mean == pytest.approx(0.015)
    assert report.median == pytest.approx(0.015)
    assert report.as_json()["rows"][0]["average"] == pytest.approx(0.3)


def test_check_linearity_measures_singles_and_pairs_through_the_callable():
    columns = {"a": np.array([0.4, 0.1]), "b": np.array([0.2, 0.3]), "c": np.array([0.0, 0.9])}
    seen = []

    def measure(mixture):
        seen.append(mixture)
        score = sum(w * columns[t] for t, w in mixture.items()) + 0.01 * (len(mixture) - 1)
        return {"t1": float(score[0]), "t2": float(score[1])}

    report = check_linearity(["a", "b", "c"], measure)
    assert {"a": 0.5, "b": 0.5} in seen and {"b": 0.5, "c": 0.5} in seen and {"c": 1.0} in seen
    assert len(seen) == 6
    assert len(report.rows) == 6
    assert report.mean == pytest.approx(0.01)
    assert report.median == pytest.approx(0.01)


def test_read_measurements_csv_layout_and_errors(tmp_path):
    path = write(tmp_path / "m.csv", "mixture,task,score\na,t,0.4\nb,t,0.2\nb+a,t,0.35\n")
    assert read_measurements_csv(path) == {"a": {"t": 0.4}, "b": {"t": 0.2}, "a+b": {"t": 0.35}}
    cases = [
        ("mix,task,score\n", ":1: the header must be mixture,task,score"),
        ("mixture,task,score\na,t,x\n", ":2: column 3: 'x' is not a number"),
        ("mixture,task,score\na+b+c,t,1\n", ":2: column 1: 'a\\+b\\+c' is not a template"),
        ("mixture,task,score\na,t,1\na,t,2\n", ":3: a second score for 'a' on task 't'"),
        ("mixture,task,score\na,t,1\na+b,t,1\n", ": pair 'a\\+b' needs rows for 'b' alone"),
        (
            "mixture,task,score\na,t,1\nb,t,1\na+b,u,1\n",
            ": pair 'a\\+b' is measured on task 'u', but 'a' alone is not",
        ),
    ]
    for text, message in cases:
        with pytest.raises(CookbookError, match="bad.csv" + message):
            read_measurements_csv(write(tmp_path / "bad.csv", text))
