"""``cookbook mix``: learned weights from a score CSV, tables and JSON, mixture files, bounds,
errors, and the linearity check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cookbook.cli import app
from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing import read_mixture

SCORES = "task,qa,choice,cloze\nsquad,1.0,0.0,0.5\npiqa,0.0,2.0,0.5\n"


@pytest.fixture
def scores(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(SCORES)
    return path


def mix(*args: str):
    result = CliRunner().invoke(app, ["mix", *args])
    if isinstance(result.exception, CookbookError):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def mix_json(*args: str) -> dict:
    return json.loads(mix(*args, "--json"))


def test_json_has_weights_predicted_scores_and_the_objective_value(scores):
    # Max-min over (qa, choice, cloze): qa and choice balance at (2/3, 1/3) for 2/3 on both
    # tasks, better than cloze's 0.5.
    out = mix_json("--scores", str(scores), "--mixer", "cvxpy", "-p", "objective=maxmin")
    assert out["weights"] == pytest.approx({"qa": 2 / 3, "choice": 1 / 3, "cloze": 0.0}, abs=1e-6)
    assert out["predicted"] == pytest.approx({"squad": 2 / 3, "piqa": 2 / 3}, abs=1e-6)
    assert out["objective"] == pytest.approx(2 / 3, abs=1e-6)
    assert out["objective_name"] == "maxmin" and out["params"]["objective"] == "maxmin"
    assert out["uniform_predicted"] == pytest.approx({"squad": 0.5, "piqa": 2.5 / 3})
    assert out["source"] == "file" and out["mixer"] == "cvxpy"


def test_table_shows_learned_beside_uniform_with_average_and_worst_task(scores):
    out = mix("--scores", str(scores), "--param", "objective=maxmin")
    for text in ("learned", "uniform", "squad", "piqa", "average", "worst task"):
        assert text in out
    assert "0.6667" in out  # learned worst task
    assert "0.5000" in out  # uniform worst task (squad)
    assert "objective (maxmin): 0.6667" in out
    assert "1 of 3 templates have weight 0" in out


def test_bounds_from_the_command_line(scores):
    capped = mix_json("--scores", str(scores), "-p", "max_weight=0.4")
    # Mean objective: choice (column mean 1.0) capped at 0.4; qa and cloze tie (0.5), so the
    # least concentrated split gives them 0.3 each.
    assert capped["weights"] == pytest.approx({"qa": 0.3, "choice": 0.4, "cloze": 0.3}, abs=1e-6)
    floors = mix_json("--scores", str(scores), "-p", "min_weight={qa: 0.3}", "-p", "max_weight=0.6")
    assert floors["weights"] == pytest.approx({"qa": 0.3, "choice": 0.6, "cloze": 0.1}, abs=1e-6)
    assert floors["params"]["min_weight"] == {"qa": 0.3}
    assert floors["params"]["max_weight"] == 0.6


def test_task_weights_and_regularization_options(scores):
    squad_only = mix_json("--scores", str(scores), "-p", "task_weights={piqa: 0}")
    assert squad_only["weights"] == pytest.approx({"qa": 1.0, "choice": 0.0, "cloze": 0.0})
    spread = mix_json("--scores", str(scores), "-p", "regularization=l2", "-p", "strength=10")
    assert all(w > 0.2 for w in spread["weights"].values())
    assert spread["params"]["regularization"] == "l2"


def test_output_writes_a_valid_mixture_file_with_exact_counts(scores, tmp_path):
    path = tmp_path / "run" / "mixture.json"
    mix("--scores", str(scores), "-p", "objective=maxmin", "--total", "1000", "--output", str(path))
    document = read_mixture(path)
    assert document["counts"] == {"qa": 667, "choice": 333, "cloze": 0}
    assert document["weights"]["qa"] == pytest.approx(2 / 3, abs=1e-6)


def test_uniform_and_fixed_mixers(scores):
    uniform = mix_json("--scores", str(scores), "--mixer", "uniform")
    assert uniform["weights"] == pytest.approx({"qa": 1 / 3, "choice": 1 / 3, "cloze": 1 / 3})
    assert uniform["objective"] is None
    assert uniform["predicted"] == uniform["uniform_predicted"]
    fixed = mix_json("--scores", str(scores), "--mixer", "fixed", "-p", "weights={qa: 3, cloze: 1}")
    assert fixed["weights"] == {"qa": 0.75, "choice": 0.0, "cloze": 0.25}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--mixer", "uniform", "-p", "objective=mean"],
            "mixer 'uniform': objective: unknown parameter 'objective'",
        ),
        (["--mixer", "cvxp"], "unknown mixer 'cvxp'; did you mean 'cvxpy'?"),
        (["-p", "objective=median"], "mixer 'cvxpy': objective: 'median' is not one of"),
        (
            ["-p", "objectve=mean"],
            "objectve: unknown parameter 'objectve'; did you mean 'objective'",
        ),
        (["-p", "min_weight={qa: lots}"], "min_weight.qa: 'lots' is not of type 'number'"),
        (["-p", "task_weights"], "--param 'task_weights': expected KEY=VALUE"),
        (["-p", "max_weight=0.2"], "max_weight: the maximum weights sum to 0.6 < 1"),
    ],
)
def test_bad_options_are_clear_errors(scores, args, message):
    with pytest.raises(CookbookError, match=message):
        mix("--scores", str(scores), *args)


def test_mix_needs_scores_or_the_linearity_check():
    with pytest.raises(CookbookError, match="give --scores FILE.csv"):
        mix()
    with pytest.raises(CookbookError, match="--check-linearity needs --measurements"):
        mix("--check-linearity")


def test_errors_reach_the_user_without_a_traceback_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("task,a,b\nt1,0.5,0.1\nt2,0.3,n/a\n")
    out = tmp_path / "mixture.json"
    result = subprocess.run(
        [sys.executable, "-m", "cookbook", "mix", "--scores", str(bad), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "bad.csv:3: column 3 (b): 'n/a' is not a number" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_check_linearity_reports_deviations_with_mean_and_median(tmp_path):
    path = tmp_path / "measured.csv"
    path.write_text(
        "mixture,task,score\n"
        "a,t1,0.40\nb,t1,0.20\nc,t1,0.10\n"
        "a+b,t1,0.32\nb+c,t1,0.15\na+c,t1,0.30\n"
    )
    report = mix_json("--check-linearity", "--measurements", str(path))
    deviations = {"+".join(r["pair"]): round(r["deviation"], 9) for r in report["rows"]}
    assert deviations == {"a+b": 0.02, "b+c": 0.0, "a+c": 0.05}
    assert report["mean"] == pytest.approx(0.07 / 3)
    assert report["median"] == pytest.approx(0.02)
    table = mix("--check-linearity", "--measurements", str(path))
    assert "mean 0.0233, median 0.0200" in table


def test_help_lists_every_mixer_with_its_parameters():
    result = CliRunner().invoke(app, ["mix", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for fragment in ("mixer cvxpy", 'objective (one of "mean", "maxmin")', "mixer fixed"):
        assert fragment in text, result.output
    for gone in ("--objective", "--min-weight", "--task-weight"):
        assert gone not in text
