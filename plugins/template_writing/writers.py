"""The built-in writers: a local Hugging Face causal LM (``transformers``) and an
OpenAI-compatible chat-completions endpoint (``openai``)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Annotated, Any

from cookbook import CookbookError, Param, Params

#: The model the ``transformers`` writer loads unless told otherwise (see
#: docs/automatic-templates.md, "Writers and local models").
DEFAULT_WRITER_MODEL = "qwen2.5-coder-0.5b-instruct"
#: Environment variables holding the endpoint's key, the first that is set wins.
KEY_VARIABLES = ("COOKBOOK_WRITER_API_KEY", "OPENAI_API_KEY")
#: Where the ``openai`` writer sends requests unless told otherwise.
DEFAULT_ENDPOINT = "https://api.openai.com/v1"


def plain_chat(messages: list[dict[str, str]]) -> str:
    """Chat messages as plain text, for a model without a chat template."""
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join([*turns, "Assistant:"])


class TransformersWriter:
    """A local causal LM (a folder, a cached hub name or an alias), through transformers."""

    name = "transformers"
    description = (
        "A local Hugging Face causal LM by folder, cached hub name or alias, in its chat"
        " template; greedy or sampled."
    )

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str | None], tuple[Any, Any]] = {}

    def _load(self, model: str, device: str | None) -> tuple[Any, Any]:
        """The model and tokenizer, loaded once per writer (retries reuse them)."""
        key = (model, device)
        if key not in self._loaded:
            from cookbook.engine import load_model, load_tokenizer

            self._loaded[key] = (load_model(model, device=device), load_tokenizer(model))
        return self._loaded[key]

    def write(
        self,
        messages: list[dict[str, str]],
        *,
        model: Annotated[
            str, Param("Model folder, cached hub name or alias.")
        ] = DEFAULT_WRITER_MODEL,
        max_new_tokens: Annotated[
            int, Param("Most tokens in the reply.", minimum=1, maximum=32768)
        ] = 1024,
        temperature: Annotated[float, Param("0: greedy; above 0: sampled.", minimum=0)] = 0.0,
        top_p: Annotated[
            float, Param("Nucleus sampling share.", exclusiveMinimum=0, maximum=1)
        ] = 0.95,
        seed: Annotated[int, Param("Seed of the sampled draws.")] = 0,
        device: Annotated[str | None, Param("cpu, cuda, ... (default: the best).")] = None,
    ) -> str:
        """The model's reply to ``messages`` (in its chat template when it has one)."""
        from cookbook.engine import generate_greedy

        loaded, tokenizer = self._load(model, device)
        chat = bool(getattr(tokenizer, "chat_template", None))
        if chat:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = plain_chat(messages)
        [reply] = generate_greedy(
            loaded,
            tokenizer,
            [text],
            max_new_tokens=max_new_tokens,
            stop=None,
            batch_size=1,
            add_special_tokens=not chat,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
        )
        return reply

    params = Params.of(write)


def completions_url(endpoint: str) -> str:
    """The chat-completions URL of ``endpoint``: a full ``.../chat/completions`` URL as it is,
    a base ending in ``/v1`` with ``/chat/completions``, any other base with
    ``/v1/chat/completions``."""
    url = endpoint.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CookbookError(f"writer 'openai': endpoint {endpoint!r} is not an http(s) URL")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def api_key() -> str | None:
    """The endpoint's key from the environment (``COOKBOOK_WRITER_API_KEY``, then
    ``OPENAI_API_KEY``), or None: local servers often need none."""
    for variable in KEY_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def reply_text(data: Any, url: str) -> str:
    """The first choice's message content of a chat-completions response."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise CookbookError(
            f"writer 'openai': {url} answered without choices[0].message.content:"
            f" {json.dumps(data)[:300]}"
        )
    return content


class OpenAIWriter:
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name = "openai"
    description = (
        "An OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, ...);"
        " key from COOKBOOK_WRITER_API_KEY or OPENAI_API_KEY."
    )

    def write(
        self,
        messages: list[dict[str, str]],
        *,
        endpoint: Annotated[
            str, Param("Base URL (.../v1) or the full chat-completions URL.")
        ] = DEFAULT_ENDPOINT,
        model: Annotated[str, Param("The model name the endpoint serves.")] = "gpt-4o-mini",
        max_tokens: Annotated[int, Param("Most tokens in the reply.", minimum=1)] = 2048,
        temperature: Annotated[float, Param("Sampling temperature.", minimum=0)] = 0.0,
        timeout: Annotated[
            float, Param("Seconds to wait for the reply.", exclusiveMinimum=0)
        ] = 120.0,
    ) -> str:
        """The endpoint's reply to ``messages``; a failure is one error naming the URL."""
        url = completions_url(endpoint)
        body = {
            "model": model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        headers = {"Content-Type": "application/json"}
        key = api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:300]
            raise CookbookError(
                f"writer 'openai': {url} answered HTTP {exc.code} {exc.reason}"
                + (f": {detail}" if detail else "")
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CookbookError(f"writer 'openai': cannot reach {url}: {reason}") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise CookbookError(
                f"writer 'openai': {url} answered with something that is not JSON: {raw[:200]!r}"
            ) from None
        return reply_text(data, url)

    params = Params.of(write)
