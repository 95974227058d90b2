"""Token spaces by name: the core's ``pseudowords`` and ``tokenizer:MODEL``, or a plugin's."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cookbook.contract.errors import CookbookError, did_you_mean
from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE, TokenSpace, pseudowords

_WORD = re.compile(r"^[A-Za-z]{2,12}$")


def tokenizer_words(model: str) -> list[str]:
    """The word-like tokens of a tokenizer: whole alphabetic words that start with a space."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise CookbookError(
            "the tokenizer token space needs transformers: pip install 'cookbook-llm[train]'"
        ) from exc
    from cookbook.engine.models import local_files_only, resolve_model_path

    path = resolve_model_path(model, tokenizer=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only())
    except (OSError, ValueError) as exc:
        raise CookbookError(
            f"token space tokenizer:{model}: cannot load its tokenizer: {exc}"
        ) from exc
    words = set()
    for token in tokenizer.get_vocab():
        # Byte-level BPE marks a leading space with "Ġ", SentencePiece with "▁".
        if token[:1] in ("Ġ", "▁") and _WORD.match(token[1:]):
            words.add(token[1:])
    if not words:  # another convention: decode every token (slower, but general)
        for token_id in range(len(tokenizer)):
            text = tokenizer.decode([token_id])
            if text.startswith(" ") and _WORD.match(text[1:]):
                words.add(text[1:])
    return sorted(words)


@lru_cache(maxsize=16)
def builtin_token_space(spec: str) -> TokenSpace | None:
    """The core's own spaces: ``pseudowords`` and ``tokenizer:MODEL``; None for others."""
    if spec == DEFAULT_TOKEN_SPACE:
        return TokenSpace(spec, pseudowords)
    if spec.startswith("tokenizer:"):
        model = spec.split(":", 1)[1]
        return TokenSpace(spec, lambda: tokenizer_words(model))
    return None


def token_space_problem(spec: str, registry: Any = None) -> str | None:
    """What is wrong with the token space name ``spec`` (None when it names one), without
    building the space."""
    if registry is None:
        from cookbook.registry import get_registry

        registry = get_registry()
    if spec == DEFAULT_TOKEN_SPACE:
        return None
    if spec.startswith("tokenizer:"):
        model = spec.partition(":")[2]
        if not model.strip():
            return "tokenizer: needs a model, as tokenizer:MODEL"
        from cookbook.engine.models import model_problem

        problem = model_problem(model, tokenizer=True)
        return None if problem is None else f"token space {spec!r}: {problem}"
    try:
        registry.get("token_spaces", spec)
    except CookbookError as exc:
        known = [DEFAULT_TOKEN_SPACE, "tokenizer:MODEL", *registry.names("token_spaces")]
        hint = did_you_mean(spec, known, cutoff=0.5) or f" (known: {', '.join(known)})"
        _, marker, failed = str(exc).partition("; plugins that failed to load")
        return f"unknown token space {spec!r}{hint}{marker}{failed}"
    return None


def resolve_token_space(spec: str, registry: Any = None) -> TokenSpace:
    """The token space named ``spec``: a core space or one a plugin registered."""
    if registry is None:
        from cookbook.registry import get_registry

        registry = get_registry()
    problem = token_space_problem(spec, registry)
    if problem is not None:
        raise CookbookError(problem)
    return builtin_token_space(spec) or registry.get("token_spaces", spec)
