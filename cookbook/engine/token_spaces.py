"""Token spaces by name: the core's ``pseudowords`` and ``tokenizer:MODEL``, or a plugin's."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cookbook.contract.errors import CookbookError
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
    from cookbook.engine.models import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
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


def resolve_token_space(spec: str, registry: Any = None) -> TokenSpace:
    """The token space named ``spec``: a core space or one a plugin registered."""
    if registry is None:
        from cookbook.registry import get_registry

        registry = get_registry()
    return builtin_token_space(spec) or registry.get("token_spaces", spec)
