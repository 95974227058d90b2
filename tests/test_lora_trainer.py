"""The ``lora`` trainer on a tiny random Llama: masking, packing, learning, resume, reload."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny_llama import build_tiny_llama, mapping_pairs, vocabulary, write_samples

from cookbook import CookbookError, ModelInfo, get_registry
from cookbook.engine import train_model, trainer_params

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from cookbook_plugins.lora import loop as lora_loop  # noqa: E402
from cookbook_plugins.lora.sft_data import (  # noqa: E402
    BatchPlan,
    pack,
    sample_stream,
    tokenize_pairs,
)

FAST = {"progress": False, "num_threads": 1, "lora_r": 4, "checkpoint_every": 0}


@pytest.fixture(scope="module")
def pairs():
    return mapping_pairs(64)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, pairs):
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model", vocabulary(pairs)))


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory, pairs):
    folder = tmp_path_factory.mktemp("tiny_chat") / "model"
    return str(build_tiny_llama(folder, vocabulary(pairs), chat=True))


@pytest.fixture(scope="module")
def data(tmp_path_factory, pairs):
    return str(write_samples(tmp_path_factory.mktemp("data") / "samples.jsonl", pairs))


@pytest.fixture
def trainer():
    return get_registry().get("trainers", "lora")


def tokenizer_of(path):
    from cookbook.engine.models import load_tokenizer

    return load_tokenizer(path)


def test_lora_is_registered_with_a_schema_of_every_key_with_defaults(trainer):
    assert trainer.name == "lora" and trainer.description
    properties = trainer.params.schema["properties"]
    keys = (
        "lora_r lora_alpha lora_dropout lora_target_modules learning_rate lr_scheduler "
        "warmup_steps batch_size gradient_accumulation_steps max_steps epochs seed "
        "train_on_prompt checkpoint_every merge resume"
    )
    for key in keys.split():
        assert "default" in properties[key] and properties[key]["description"], key
    assert properties["lora_r"]["minimum"] == 1
    assert properties["resume"]["enum"] == [True, False, "auto"]
    resolved = trainer_params("lora")
    assert resolved["train_on_prompt"] is False and resolved["max_steps"] is None
    assert trainer_params("lora", seed=7, resume="auto")["seed"] == 7
    assert trainer_params("lora", seed=7, resume="auto")["resume"] == "auto"


def test_bad_parameters_are_errors_that_name_the_key(data, tiny_model, tmp_path):
    with pytest.raises(CookbookError, match="trainer 'lora': lora_r: 0 is less than"):
        train_model("lora", data, tiny_model, tmp_path, {"lora_r": 0})
    with pytest.raises(CookbookError, match="'lora_rank'; did you mean 'lora_r'"):
        train_model("lora", data, tiny_model, tmp_path, {"lora_rank": 8})
    with pytest.raises(CookbookError, match="resume: 'maybe' is not one of"):
        train_model("lora", data, tiny_model, tmp_path, {"resume": "maybe"})
    assert not any(tmp_path.iterdir())


def test_the_plugin_module_imports_without_torch():
    code = "import sys, cookbook_plugins.lora; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_prompt_tokens_are_masked_exactly(tiny_model):
    tokenizer = tokenizer_of(tiny_model)
    samples = tokenize_pairs([("map w1 to", " v3"), ("map w2 to", " v5")], tokenizer, False, 64)
    batch = pack(samples, [0, 1])
    ids = batch.input_ids.tolist()
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "map", "w1", "to", "v3", "</s>", "map", "w2", "to", "v5", "</s>",
    ]  # fmt: skip
    assert tokenizer.convert_ids_to_tokens(batch.targets.tolist()) == ["v3", "</s>", "v5", "</s>"]
    assert batch.target_positions.tolist() == [2, 3, 7, 8]
    assert batch.position_ids.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert batch.bounds == [0, 5, 10]


def test_train_on_prompt_makes_every_next_token_a_target(tiny_model):
    tokenizer = tokenizer_of(tiny_model)
    samples = tokenize_pairs([("map w1 to", " v3")], tokenizer, False, 64, train_on_prompt=True)
    batch = pack(samples, [0])
    assert tokenizer.convert_ids_to_tokens(batch.targets.tolist()) == ["w1", "to", "v3", "</s>"]
    assert batch.target_positions.tolist() == [0, 1, 2, 3]


def test_chat_models_train_on_the_assistant_turn_only(tiny_chat_model):
    tokenizer = tokenizer_of(tiny_chat_model)
    samples = tokenize_pairs([("map w1 to", " v3")], tokenizer, True, 64)
    batch = pack(samples, [0])
    assert tokenizer.convert_ids_to_tokens(batch.input_ids.tolist()) == [
        "<|user|>", "map", "w1", "to", "</s>", "<|assistant|>", "v3", "</s>",
    ]  # fmt: skip
    assert tokenizer.convert_ids_to_tokens(batch.targets.tolist()) == ["v3", "</s>"]


def test_long_samples_are_cut_and_samples_without_targets_dropped(tiny_model):
    tokenizer = tokenizer_of(tiny_model)
    pairs = [("map w1 to", " v3"), ("map w1 w2 w3 w4 to", " v3")]
    samples = tokenize_pairs(pairs, tokenizer, False, max_length=4)
    assert len(samples) == 1 and samples.skipped == 1 and samples.truncated == 2
    assert len(samples.ids[0]) == 4


def test_packed_loss_equals_the_mean_over_separate_samples(tiny_model):
    """No attention crosses sample bounds, and the loss covers exactly the completion tokens."""
    from peft import LoraConfig, get_peft_model

    from cookbook.engine.models import load_model

    tokenizer = tokenizer_of(tiny_model)
    pairs = mapping_pairs(5, seed=3)
    samples = tokenize_pairs(pairs, tokenizer, False, 64)
    model = load_model(tiny_model, device="cpu")
    attention = lora_loop._attention("auto", "cpu")
    model.set_attn_implementation(attention)
    model = get_peft_model(model, LoraConfig(r=2, target_modules="all-linear"))
    runner = lora_loop._StepRunner(model, "cpu", attention, lora_loop.Distributed())
    batch = pack(samples, range(5))
    with torch.no_grad():
        packed = runner._loss_sum(batch) / batch.num_targets
        total, count = 0.0, 0
        for index in range(5):
            ids = torch.from_numpy(samples.ids[index])[None]
            labels = ids.clone()
            labels[0, : samples.prompt_lengths[index]] = -100
            targets = int((labels[0, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * targets
            count += targets
    assert packed.item() == pytest.approx(total / count, rel=1e-5)


def test_the_sample_order_is_fixed_by_the_seed_and_resumable():
    def take(stream, n):
        return [next(stream) for _ in range(n)]

    full = take(sample_stream(10, seed=7), 35)
    assert sorted(full[:10]) == list(range(10)) and sorted(full[10:20]) == list(range(10))
    assert full[:10] != full[10:20]
    assert take(sample_stream(10, seed=7, start=13), 22) == full[13:]
    assert take(sample_stream(10, seed=8), 10) != full[:10]


def test_ranks_split_each_step_between_them(tiny_model):
    tokenizer = tokenizer_of(tiny_model)
    samples = tokenize_pairs(mapping_pairs(20), tokenizer, False, 64)
    single = BatchPlan(samples, batch_size=2, accumulation=1, seed=0, world=1).steps(0)
    ranks = [BatchPlan(samples, 2, 1, 0, world=2, rank=r).steps(0) for r in range(2)]
    first_two = next(single)[0] + next(single)[0]
    step = [next(r) for r in ranks]
    assert [b.samples for b in first_two] == [s[0][0].samples for s in step]
    assert step[0][1] == step[1][1] == sum(b.num_targets for b in first_two)


def test_loss_falls_on_a_learnable_dataset(trainer, data, tiny_model, tmp_path):
    params = {**FAST, "max_steps": 40, "batch_size": 8, "learning_rate": 1e-2}
    metrics = trainer.train(data, tiny_model, str(tmp_path / "out"), **params)
    losses = metrics["loss"]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]
    saved = json.loads((tmp_path / "out" / "train_metrics.json").read_text())
    assert saved["start_step"] == 0 and saved["step"] == 40 and saved["loss"] == losses
    assert saved["tokens_per_second"] > 0
    info = ModelInfo.load(tmp_path / "out")
    assert info == ModelInfo(base=tiny_model, chat_template=False, trainer="lora")


def test_resume_after_an_interruption_gives_the_same_weights(
    trainer, data, tiny_model, tmp_path, monkeypatch
):
    from safetensors.torch import load_file

    params = {**FAST, "max_steps": 8, "batch_size": 4, "learning_rate": 1e-2,
              "checkpoint_every": 3, "gradient_accumulation_steps": 2, "lr_scheduler": "cosine",
              "warmup_steps": 2, "lora_dropout": 0.1}  # fmt: skip
    whole = trainer.train(data, tiny_model, str(tmp_path / "whole"), **params)

    write = lora_loop.write_checkpoint

    def write_then_crash(*args, **kwargs):
        path = write(*args, **kwargs)
        if args[1] == 6:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(lora_loop, "write_checkpoint", write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(data, tiny_model, str(tmp_path / "cut"), **params)
    monkeypatch.setattr(lora_loop, "write_checkpoint", write)
    assert not (tmp_path / "cut" / "adapter_model.safetensors").exists()

    resumed = trainer.train(data, tiny_model, str(tmp_path / "cut"), **params, resume=True)
    assert resumed["start_step"] == 6 and resumed["step"] == 8
    assert resumed["loss"] == whole["loss"][6:]
    a = load_file(tmp_path / "whole" / "adapter_model.safetensors")
    b = load_file(tmp_path / "cut" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    kept = sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir())
    assert kept == ["step-00000003", "step-00000006"]


def test_resume_refuses_changed_settings_and_training_over_a_run(
    trainer, data, tiny_model, tmp_path
):
    out = str(tmp_path / "out")
    trainer.train(data, tiny_model, out, **{**FAST, "max_steps": 3, "checkpoint_every": 2})
    with pytest.raises(CookbookError, match=r"pass resume: true \(-p resume=true\)"):
        trainer.train(data, tiny_model, out, **{**FAST, "max_steps": 3})
    with pytest.raises(CookbookError, match=r"params.max_steps: 3 -> 5"):
        trainer.train(data, tiny_model, out, **{**FAST, "max_steps": 5, "resume": True})


def test_resume_auto_continues_from_a_checkpoint_and_otherwise_starts(
    data, tiny_model, tmp_path, monkeypatch
):
    params = {**FAST, "max_steps": 4, "batch_size": 4, "checkpoint_every": 2}
    fresh = train_model("lora", data, tiny_model, tmp_path / "fresh", params, resume="auto")
    assert fresh["start_step"] == 0 and fresh["step"] == 4

    write = lora_loop.write_checkpoint

    def write_then_crash(*args, **kwargs):
        write(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(lora_loop, "write_checkpoint", write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train_model("lora", data, tiny_model, tmp_path / "cut", params)
    monkeypatch.setattr(lora_loop, "write_checkpoint", write)
    resumed = train_model("lora", data, tiny_model, tmp_path / "cut", params, resume="auto")
    assert resumed["start_step"] == 2 and resumed["loss"] == fresh["loss"][2:]

    # A finished run without a checkpoint: "auto" trains it again from the start.
    once = {**params, "max_steps": 2, "checkpoint_every": 0}
    train_model("lora", data, tiny_model, tmp_path / "done", once)
    again = train_model("lora", data, tiny_model, tmp_path / "done", once, resume="auto")
    assert again["start_step"] == 0 and again["step"] == 2


def test_resume_true_without_a_checkpoint_says_there_is_nothing_to_resume(
    data, tiny_model, tmp_path
):
    params = {**FAST, "max_steps": 2, "batch_size": 4}
    with pytest.raises(CookbookError, match="nothing to resume from: no checkpoint"):
        train_model("lora", data, tiny_model, tmp_path / "empty", {**params, "resume": True})
    assert not (tmp_path / "empty" / "adapter_model.safetensors").exists()


def test_resume_true_over_a_finished_run_names_its_step_and_never_retrains(
    data, tiny_model, tmp_path
):
    out = tmp_path / "done"
    params = {**FAST, "max_steps": 2, "batch_size": 4}
    train_model("lora", data, tiny_model, out, params)
    adapter = (out / "adapter_model.safetensors").read_bytes()
    metrics = (out / "train_metrics.json").read_text()
    with pytest.raises(CookbookError) as err:
        train_model("lora", data, tiny_model, out, {**params, "resume": True})
    message = str(err.value)
    assert "nothing to resume from" in message and "finished training run (step 2)" in message
    assert "new output folder" in message and "resume: false" in message
    assert (out / "adapter_model.safetensors").read_bytes() == adapter
    assert (out / "train_metrics.json").read_text() == metrics
    with pytest.raises(CookbookError, match=r"already holds a training run \(step 2\)"):
        train_model("lora", data, tiny_model, out, params)


def test_adapter_reloads_and_merges_to_the_same_model(trainer, data, tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    params = {**FAST, "max_steps": 10, "batch_size": 8, "learning_rate": 1e-2, "merge": True}
    trainer.train(data, tiny_model, str(out), **params)
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    ids = torch.tensor([[4, 5, 6, 7]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        before = base(ids).logits
        adapted = PeftModel.from_pretrained(base, str(out)).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(out / "merged")(ids).logits
    assert not torch.allclose(before, adapted, atol=1e-4)
    assert torch.allclose(adapted, merged, atol=1e-4)


def test_chat_model_trains(trainer, data, tiny_chat_model, tmp_path):
    params = {**FAST, "max_steps": 2, "batch_size": 4, "gradient_accumulation_steps": 2}
    metrics = trainer.train(data, tiny_chat_model, str(tmp_path / "out"), **params)
    assert metrics["chat_template"] is True and len(metrics["loss"]) == 2
    assert ModelInfo.load(tmp_path / "out").chat_template is True


def test_a_record_without_a_completion_is_an_error_naming_its_line(trainer, tiny_model, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n\n{"prompt": "c"}\n')
    with pytest.raises(CookbookError, match=r"bad.jsonl:3: .*'completion'"):
        trainer.train(str(path), tiny_model, str(tmp_path / "out"), **FAST)


def test_epochs_set_the_number_of_steps(trainer, data, tiny_model, tmp_path):
    params = {**FAST, "epochs": 0.5, "batch_size": 8, "gradient_accumulation_steps": 2}
    metrics = trainer.train(data, tiny_model, str(tmp_path / "out"), **params)
    assert metrics["step"] == 2  # 64 samples / 2 / (8 * 2) per step


def test_lr_schedule_warms_up_then_decays():
    factors = [lora_loop.lr_factor(s, warmup=2, total=6, kind="linear") for s in range(6)]
    assert factors == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25]
    assert lora_loop.lr_factor(4, warmup=0, total=4, kind="cosine") == pytest.approx(0.0)
    assert lora_loop.lr_factor(3, warmup=0, total=4, kind="constant") == 1.0


@pytest.mark.slow
def test_the_embedded_model_trains_for_a_few_steps(trainer, tmp_path):
    from cookbook.engine.samples import SampleMaker
    from cookbook.engine.token_spaces import builtin_token_space

    template = get_registry().get("templates", "document_qa")
    params = template.resolve({"min_words": 20, "max_words": 30})
    maker = SampleMaker(template, "document_qa", params, 0, builtin_token_space("pseudowords"))
    data = tmp_path / "samples.jsonl"
    data.write_text("".join(maker.line(i) for i in range(4)))
    out = tmp_path / "out"
    metrics = trainer.train(
        str(data), "smollm2-135m-instruct", str(out), max_steps=2, batch_size=2, lora_r=4,
        progress=False, checkpoint_every=0,
    )  # fmt: skip
    assert metrics["chat_template"] is True
    assert len(metrics["loss"]) == 2 and all(0 < loss < 20 for loss in metrics["loss"])
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and (out / "adapter_model.safetensors").is_file()


def test_a_model_that_cannot_load_leaves_no_output_folder(trainer, data, tmp_path):
    with pytest.raises(CookbookError, match="no such folder"):
        trainer.train(data, str(tmp_path / "no-model"), str(tmp_path / "out"), **FAST)
    assert not (tmp_path / "out").exists()


def test_a_device_this_machine_lacks_is_refused_before_any_work(
    trainer, data, tiny_model, tmp_path, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    read = []
    monkeypatch.setattr(lora_loop, "read_pairs", lambda path: read.append(path) or [])
    with pytest.raises(CookbookError, match="lora trainer: device 'cuda:7': this machine has no"):
        trainer.train(data, tiny_model, str(tmp_path / "out"), **{**FAST, "device": "cuda:7"})
    assert not read and not (tmp_path / "out").exists()
    with pytest.raises(CookbookError, match="device: 'gpu' is not of the form: auto"):
        train_model("lora", data, tiny_model, tmp_path / "out", {"device": "gpu"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(CookbookError, match=r"has 1 CUDA GPU \(cuda:0 to cuda:0\)"):
        train_model("lora", data, tiny_model, tmp_path / "out", {**FAST, "device": "cuda:1"})
    assert not read and not (tmp_path / "out").exists()


def test_integer_parameters_are_integers_within_bounds(data, tiny_model, tmp_path):
    for given, message in [
        ({"max_steps": 5.0}, "max_steps: 5.0 is not of type 'integer' or 'null'"),
        ({"batch_size": True}, "batch_size: true is not of type 'integer'"),
        ({"max_steps": 2**63}, "max_steps: 9223372036854775808 is out of range"),
        ({"learning_rate": float("inf")}, "learning_rate: .inf is not a finite number"),
        ({"epochs": float("nan")}, "epochs: .nan is not a finite number"),
    ]:
        with pytest.raises(CookbookError) as err:
            train_model("lora", data, tiny_model, tmp_path / "out", {**FAST, **given})
        assert message in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_two_processes_under_torchrun_match_one_with_accumulation(data, tiny_model, tmp_path):
    """DDP splits each step between ranks and averages over all its target tokens."""
    from pathlib import Path

    from safetensors.torch import load_file

    bin_dir = Path(sys.executable).parent
    common = ["train", "--data", data, "--model", tiny_model, "-p", "max_steps=4",
              "-p", "batch_size=2", "-p", "num_threads=1", "-p", "progress=false",
              "-p", "lora_dropout=0", "-p", "learning_rate=0.01"]  # fmt: skip
    ddp = [str(bin_dir / "torchrun"), "--standalone", "--nproc_per_node", "2", "--no-python"]
    cookbook = str(bin_dir / "cookbook")
    runs = {
        "ddp": [*ddp, cookbook, *common],
        "single": [cookbook, *common, "-p", "gradient_accumulation_steps=2"],
    }
    for name, command in runs.items():
        done = subprocess.run([*command, "--output", str(tmp_path / name)], capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    metrics = {n: json.loads((tmp_path / n / "train_metrics.json").read_text()) for n in runs}
    assert metrics["ddp"]["world_size"] == 2
    assert metrics["ddp"]["loss"] == pytest.approx(metrics["single"]["loss"], rel=1e-5)
    a = load_file(tmp_path / "ddp" / "adapter_model.safetensors")
    b = load_file(tmp_path / "single" / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.parametrize(
    "variant", [{"gradient_checkpointing": True}, {"attn_implementation": "sdpa"}]
)
def test_checkpointing_and_masked_sdpa_give_the_same_losses(
    trainer, data, tiny_model, tmp_path, variant
):
    params = {**FAST, "max_steps": 3, "batch_size": 4, "learning_rate": 1e-2}
    plain = trainer.train(data, tiny_model, str(tmp_path / "plain"), **params)
    other = trainer.train(data, tiny_model, str(tmp_path / "other"), **params, **variant)
    assert other["loss"] == pytest.approx(plain["loss"], rel=1e-5)
