"""Alignment scoring on a real local Ray: ``cookbook score --engine ray`` and the pipeline's
score step give the local engine's scores, summary and matrix; a record the scorer cannot
read is named with its shard."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray")

from cookbook import PipelineContext, StepContext, TaskUse, TemplateUse, get_registry  # noqa: E402
from cookbook.cli import app  # noqa: E402
from cookbook.engine.samples import SampleMaker  # noqa: E402
from cookbook.engine.token_spaces import resolve_token_space  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SQUAD = FIXTURES / "qa" / "squad_small.json"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})  # fmt: skip
    yield
    ray.shutdown()


def score(*args: str) -> tuple[int, str]:
    """The exit code, and the output or the error."""
    result = CliRunner().invoke(app, ["score", *args])
    return result.exit_code, str(result.exception or "") or result.output


def samples_with_some_wrong_outputs(folder: Path) -> tuple[Path, Path]:
    """Retrieval samples and a model's outputs for them, every third one wrong."""
    registry = get_registry()
    tpl = registry.get("templates", "retrieval")
    maker = SampleMaker(tpl, "retrieval", tpl.resolve(), 0,
                        resolve_token_space("pseudowords", registry))  # fmt: skip
    records = [maker.record(i) for i in range(40)]
    data, generations = folder / "s.jsonl", folder / "g.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    outputs = [
        {"id": r["id"], "output": "wrong" if i % 3 == 0 else r["slots"][tpl.output]}
        for i, r in enumerate(records)
    ]
    generations.write_text("".join(json.dumps(o) + "\n" for o in outputs))
    return data, generations


def test_score_on_ray_gives_the_local_scores_and_summary(tmp_path):
    data, generations = samples_with_some_wrong_outputs(tmp_path)
    args = ["retrieval", "--data", str(data), "--generations", str(generations), "--json"]
    code, local = score(*args)
    assert code == 0, local
    code, on_ray = score(*args, "--engine", "ray", "--shard-size", "7")
    assert code == 0, on_ray
    assert json.loads(on_ray) == json.loads(local)
    assert 0 < json.loads(local)["statistic"] < 1  # scores that vary, not all ones
    code, task_local = score("document_qa", "--task", "squad", "--data", str(SQUAD), "--json")
    code, task_ray = score("document_qa", "--task", "squad", "--data", str(SQUAD), "--json",
                           "--engine", "ray", "--shard-size", "1")  # fmt: skip
    assert code == 0 and json.loads(task_ray) == json.loads(task_local)


def test_a_record_the_scorer_cannot_read_is_named_with_its_shard(tmp_path):
    data, _ = samples_with_some_wrong_outputs(tmp_path)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    broken = rows[9]["id"]
    rows[9]["slots"] = {"answer": rows[9]["slots"]["answer"]}  # its inputs lost
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, local = score("retrieval", "--data", str(data))
    code, output = score("retrieval", "--data", str(data), "--engine", "ray", "--shard-size", "4")
    assert code != 0
    message = " ".join(output.split())
    assert f"shard 2 (records 8-11): scoring record {broken}" in message
    assert "scoring record" in " ".join(local.split())


def test_the_score_step_on_ray_writes_the_local_matrix(tmp_path):
    kind = get_registry().get("steps", "score")
    templates = tuple(TemplateUse(n, {}) for n in ("document_qa", "typed_qa", "retrieval"))
    files = {}
    for where, execution in (("local", {}), ("ray", {"engine": "ray", "score_shard_size": 1})):
        folder = tmp_path / where
        folder.mkdir()
        pipeline = PipelineContext(name="p", seed=0, model=None, token_space="pseudowords",
                                   templates=templates,
                                   tasks=(TaskUse(name="qa", type="squad", path=str(SQUAD)),),
                                   folder=tmp_path, run_folder=tmp_path,
                                   execution=execution)  # fmt: skip
        ctx = StepContext(name="score", params={}, inputs={}, pipeline=pipeline, folder=folder,
                          log=lambda message: None)  # fmt: skip
        out = kind.run(ctx, limit=500)
        files[where] = (out["scores"].file.read_bytes(), out["scores"].scores, out["scores"].n)
    assert files["ray"] == files["local"]
    assert files["local"][2] == {"qa": 3}
