"""The ``trl`` trainer plugin: trl's SFTTrainer with LoRA on a tiny random Llama, trained
through Cookbook's trainer contract, its adapter evaluated like the ``lora`` trainer's."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("trl")

from eval_helpers import one_thread  # noqa: E402
from tiny_llama import build_tiny_llama, mapping_pairs, vocabulary, write_samples  # noqa: E402

from cookbook import CookbookError, ModelInfo  # noqa: E402
from cookbook.engine import train_model  # noqa: E402


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("trl")
    pairs = mapping_pairs(24)
    model = build_tiny_llama(root / "model", vocabulary(pairs))
    return write_samples(root / "samples.jsonl", pairs), str(model), pairs


def test_trl_trains_an_adapter_that_evaluation_loads(setup, tmp_path):
    import cookbook.engine as engine

    data, model, pairs = setup
    out = tmp_path / "out"
    params = {"max_steps": 6, "batch_size": 4, "learning_rate": 0.01, "progress": False}
    metrics = train_model("trl", data, model, out, params)
    assert metrics["step"] == 6 and len(metrics["loss"]) == 6 and metrics["samples"] == 24
    assert metrics["loss"][-1] < metrics["loss"][0]  # it learns the mapping
    assert json.loads((out / "train_metrics.json").read_text())["step"] == 6
    assert (out / "adapter_model.safetensors").exists()
    assert ModelInfo.load(out) == ModelInfo(base=model, chat_template=False, trainer="trl")
    lm = engine.load_eval_model(model, str(out))
    tuned = lm.loglikelihoods([(pairs[0][0], pairs[0][1])], batch_size=1)[0]
    base = engine.load_eval_model(model).loglikelihoods([pairs[0]], batch_size=1)[0]
    assert tuned > base  # the adapter is applied and made the trained answer likelier


def test_trl_reads_chat_rows_and_refuses_bad_parameters(setup, tmp_path):
    data, model, pairs = setup
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": p},
                                     {"role": "assistant", "content": c.strip()}]}) + "\n"
            for p, c in pairs
        )
    )  # fmt: skip
    metrics = train_model(
        "trl", chats, model, tmp_path / "out", {"max_steps": 1, "progress": False}
    )
    assert metrics["step"] == 1 and metrics["samples"] == 24
    with pytest.raises(CookbookError, match="lora_rank"):
        train_model("trl", data, model, tmp_path / "bad", {"lora_rank": 4})


def test_padding_free_batches_on_cpu_give_the_padded_loss_and_tokens(setup, tmp_path):
    data, model, _ = setup
    params = {"max_steps": 1, "batch_size": 8, "progress": False}
    free = train_model("trl", data, model, tmp_path / "free", params)  # auto: padding-free on CPU
    padded = train_model("trl", data, model, tmp_path / "padded", {**params, "padding_free": False})
    assert free["padding_free"] is True and padded["padding_free"] is False
    # each packed row is masked by its position ids (attending across rows would move this
    # random model's logits by whole units): the padded batch's first loss to within trl's
    # own numerics (2.6e-4 relative measured), and the same real tokens counted
    assert free["loss"][0] == pytest.approx(padded["loss"][0], rel=1e-3)
    assert free["tokens"] == padded["tokens"] > 0
    assert free["tokens_per_second"] > 0 and free["elapsed_seconds"] > 0
