"""Batched greedy generation and continuation log-likelihoods on a causal LM.

Inputs are sorted by length and left-padded, so each batch ends at the same position (the
KV cache and ``logits_to_keep`` then only touch real tokens); results come back in the
caller's order. torch and transformers are imported inside functions.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from cookbook.contract.errors import CookbookError

Progress = Callable[[int], None]
#: Characters kept per token of room before a text is tokenised. No real token is longer, so
#: cutting a prompt to this many characters per token the model can take (keeping its end,
#: where the question is) changes none of the tokens it keeps; and a huge prompt (a whole book
#: as one context) never reaches the tokenizer whole, which could exhaust memory.
CHARS_PER_TOKEN = 32


def clip_text(text: str, tokens: int, keep: str = "end") -> str:
    """``text`` cut to ``tokens * CHARS_PER_TOKEN`` characters: its end (or its start)."""
    budget = max(1, tokens) * CHARS_PER_TOKEN
    if len(text) <= budget:
        return text
    return text[-budget:] if keep == "end" else text[:budget]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (a stable order)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def use_all_cores(model: Any) -> None:
    """On CPU, let torch use every core this process may run on, unless ``OMP_NUM_THREADS``
    says otherwise (on shared virtual machines fewer threads can be faster)."""
    import torch

    if model.device.type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        torch.set_num_threads(cores or os.cpu_count() or 1)


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end a generation: the tokenizer's EOS and the model's configured ones."""
    ids: list[int] = []
    for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        for token in source if isinstance(source, list | tuple) else [source]:
            if token is not None and token not in ids:
                ids.append(int(token))
    return ids


def cut_at(text: str, stop: str | None) -> str:
    """``text`` up to the first ``stop`` after its leading white space, stripped (``"\n"``:
    the first non-blank line; ``"\n\n"``: the first paragraph; None: all of it)."""
    text = text.lstrip()
    return (text.split(stop, 1)[0] if stop else text).strip()


def stop_for(answers: Sequence[str]) -> str:
    """Where generations should stop, judged from the gold answers: at the end of the line
    for one-line answers, else at the first blank line (a paragraph or stanza)."""
    if not any("\n" in a.strip() for a in answers):
        return "\n"
    return "\n\n"


def encode(tokenizer: Any, text: str, add_special_tokens: bool) -> list[int]:
    """Token ids of ``text``; never empty (a lone BOS or EOS stands in for an empty prompt)."""
    ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
    if not ids:
        bos = tokenizer.bos_token_id
        ids = [bos if bos is not None else tokenizer.eos_token_id]
    return list(ids)


def context_limit(model: Any) -> int:
    """The longest sequence the model takes (its ``max_position_embeddings``, else 2048)."""
    return int(getattr(model.config, "max_position_embeddings", None) or 2048)


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` with every sequence right-aligned."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    return ids.to(device), mask.to(device)


def _pad_id(tokenizer: Any, stops: Sequence[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return stops[0] if stops else 0


def stop_criterion(tokenizer: Any, start: int, stop: str) -> Any:
    """A stopping criterion: a row is done once its new text (from column ``start``) holds
    ``stop`` after its leading white space."""
    import torch
    from transformers import StoppingCriteria

    class StopText(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            done = [stop in text.lstrip() for text in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopText()


def generate_greedy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    stop: str | None = "\n",
    batch_size: int = 8,
    add_special_tokens: bool = True,
    on_progress: Progress | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
) -> list[str]:
    """Greedy continuations of ``prompts`` (texts already formatted for the model); with a
    ``temperature`` above 0, sampled instead (nucleus ``top_p``), each batch's draws seeded
    from ``seed``, so the same call gives the same texts.

    Each stops at an end-of-sequence token, after ``max_new_tokens``, or at the first ``stop``
    text after its leading white space (see ``cut_at``); the texts are stripped.
    Prompts longer than the model's context keep their last tokens.
    """
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    stops = stop_token_ids(model, tokenizer)
    pad_id = _pad_id(tokenizer, stops)
    room = max(1, context_limit(model) - max_new_tokens)
    encoded = [encode(tokenizer, clip_text(p, room), add_special_tokens)[-room:] for p in prompts]
    sampled = {"do_sample": True, "temperature": temperature, "top_p": top_p}
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        **(sampled if temperature > 0 else {"do_sample": False}),
        num_beams=1,
        eos_token_id=stops or None,
        pad_token_id=pad_id,
        use_cache=True,
    )
    outputs = [""] * len(prompts)
    for number, batch in enumerate(length_batches([len(e) for e in encoded], batch_size)):
        ids, mask = left_pad([encoded[i] for i in batch], pad_id, model.device)
        width = ids.shape[1]
        if temperature > 0:
            torch.manual_seed(seed * 1_000_003 + number)
        criteria = StoppingCriteriaList([stop_criterion(tokenizer, width, stop)]) if stop else None
        with torch.inference_mode():
            generated = model.generate(
                input_ids=ids,
                attention_mask=mask,
                generation_config=config,
                stopping_criteria=criteria,
            )
        for i, tokens in zip(batch, generated[:, width:].tolist(), strict=True):
            end = next((j for j, t in enumerate(tokens) if t in stops), len(tokens))
            text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
            outputs[i] = cut_at(text, stop)
        if on_progress is not None:
            on_progress(len(batch))
    return outputs


def encode_pair(
    tokenizer: Any,
    context: str,
    continuation: str,
    add_special_tokens: bool,
    joint: bool = False,
) -> tuple[list[int], list[int]]:
    """Token ids of a context and of its continuation.

    By default each is tokenized on its own, as the trainer tokenizes a prompt and its
    completion. ``joint`` follows lm-evaluation-harness: the context's trailing white space
    moves to the continuation, and the continuation's ids are those of the whole text after
    the context's own ids."""
    if not joint:
        head = encode(tokenizer, context, add_special_tokens)
        return head, list(tokenizer(continuation, add_special_tokens=False)["input_ids"])
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    head = encode(tokenizer, context, add_special_tokens)
    whole = tokenizer(context + continuation, add_special_tokens=add_special_tokens)["input_ids"]
    return head, list(whole[len(head) :])


def _takes_logits_to_keep(model: Any) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def continuation_logprobs(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = 8,
    add_special_tokens: bool = True,
    joint: bool = False,
    shared_contexts: bool = True,
    on_progress: Progress | None = None,
) -> list[float]:
    """Summed log-probability of each continuation given its context (both texts), the pair
    tokenized as ``encode_pair`` says (``joint``: as lm-evaluation-harness does).

    With ``shared_contexts`` (and a model whose cache can be indexed), a context shared by
    several continuations is read once and its KV cache serves them all, where that saves
    more than it costs (``_worth_sharing``): a question with four short choices costs one
    pass over the question, not four. Otherwise, and for inputs longer
    than the model takes (which keep their last tokens), each pair is one sequence, and pairs
    differing only in their last token share a pass. An empty continuation scores 0.
    """
    limit = context_limit(model)
    encoded = []
    for context, continuation in pairs:
        context, continuation = clip_text(context, limit), clip_text(continuation, limit)
        encoded.append(encode_pair(tokenizer, context, continuation, add_special_tokens, joint))
    results = [0.0] * len(pairs)
    whole = _worth_sharing(encoded, limit) if shared_contexts and _indexable_cache(model) else []
    if whole:
        for i, value in _shared_context_scores(
            model, tokenizer, [encoded[i] for i in whole], batch_size, on_progress
        ):
            results[whole[i]] = value
    rest = sorted(set(range(len(pairs))) - set(whole))
    for i, value in zip(
        rest,
        _sequence_scores(model, tokenizer, [encoded[i] for i in rest], batch_size, on_progress),
        strict=True,
    ):
        results[i] = value
    return results


def _worth_sharing(encoded: Sequence[tuple[list[int], list[int]]], limit: int) -> list[int]:
    """The pairs to score after a shared context: those whose context, read once instead of
    once per continuation, saves more token positions than their continuations take (four
    short answers to a question, yes/no after a passage; not two long solutions to a short
    goal, where the padding of a second pass costs more than the context saves)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (head, tail) in enumerate(encoded):
        if len(head) + len(tail) <= limit:
            groups.setdefault(tuple(head), []).append(i)
    chosen = []
    for head, members in groups.items():
        saved = (len(members) - 1) * len(head)
        if saved > sum(max(0, len(encoded[i][1]) - 1) for i in members):
            chosen += members
    return sorted(chosen)


def _cache_argument(model: Any) -> str:
    """The name ``forward`` takes a KV cache under (``cache`` in newer transformers)."""
    try:
        names = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in names else "past_key_values"


def _indexable_cache(model: Any) -> bool:
    """Whether the model keeps a plain per-layer KV cache (no sliding windows) that rows can
    be selected from."""
    layer_types = getattr(model.config, "layer_types", None) or []
    if any(kind != "full_attention" for kind in layer_types):
        return False
    return bool(getattr(model.config, "use_cache", True)) and getattr(
        model, "_supports_cache_class", True
    )


def _shared_context_scores(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[tuple[list[int], list[int]]],
    batch_size: int,
    on_progress: Progress | None,
) -> list[tuple[int, float]]:
    """(index, score) of each pair: contexts run once (their last logits score each
    continuation's first token), then every continuation's other tokens after its context's
    cached keys and values."""
    import torch
    from transformers import DynamicCache

    pad_id = _pad_id(tokenizer, stop_token_ids(model, tokenizer))
    heads: dict[tuple[int, ...], list[int]] = {}
    for i, (head, _) in enumerate(encoded):
        heads.setdefault(tuple(head), []).append(i)
    keys = list(heads)
    scores: list[tuple[int, float]] = []
    for batch in length_batches([len(k) for k in keys], batch_size):
        ids, mask = left_pad([keys[b] for b in batch], pad_id, model.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **({"logits_to_keep": 1} if _takes_logits_to_keep(model) else {}),
            )
            first = out.logits[:, -1].float().log_softmax(-1)
        cache = getattr(out, "cache", None) or out.past_key_values
        if not isinstance(cache, DynamicCache):
            raise CookbookError("the model's cache cannot be shared between continuations")
        members = [(row, i) for row, b in enumerate(batch) for i in heads[keys[b]]]
        partial = {i: float(first[row, encoded[i][1][0]]) for row, i in members if encoded[i][1]}
        longer = [(row, i) for row, i in members if len(encoded[i][1]) > 1]
        longer.sort(key=lambda item: -len(encoded[item[1]][1]))
        for start in range(0, len(longer), 2 * batch_size):
            chunk = longer[start : start + 2 * batch_size]
            rows = torch.tensor([row for row, _ in chunk], device=model.device)
            tails = [encoded[i][1] for _, i in chunk]
            width = max(len(t) - 1 for t in tails)
            tail_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            tail_mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, tail in enumerate(tails):
                tail_ids[r, : len(tail) - 1] = torch.tensor(tail[:-1])
                tail_mask[r, : len(tail) - 1] = 1
            tail_ids, tail_mask = tail_ids.to(model.device), tail_mask.to(model.device)
            past = copy.deepcopy(cache)
            past.batch_select_indices(rows)
            starts = mask[rows].sum(-1, keepdim=True)
            with torch.inference_mode():
                logits = model(
                    input_ids=tail_ids,
                    attention_mask=torch.cat([mask[rows], tail_mask], dim=-1),
                    position_ids=starts + torch.arange(width, device=model.device),
                    **{_cache_argument(model): past},
                    use_cache=True,
                ).logits
                logprobs = logits.float().log_softmax(-1)
            for r, (_, i) in enumerate(chunk):
                tail = encoded[i][1]
                targets = torch.tensor(tail[1:], device=model.device)
                picked = logprobs[r, : len(tail) - 1].gather(-1, targets.unsqueeze(-1))
                partial[i] += float(picked.sum())
        scores += [(i, partial.get(i, 0.0)) for _, i in members]
        if on_progress is not None:
            on_progress(len(members))
    return scores


def _sequence_scores(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[tuple[list[int], list[int]]],
    batch_size: int,
    on_progress: Progress | None,
) -> list[float]:
    """Each pair's score from one sequence per pair (over-long ones keep their last tokens);
    pairs differing only in their last token share a pass."""
    import torch

    if not encoded:
        return []
    pad_id = _pad_id(tokenizer, stop_token_ids(model, tokenizer))
    limit = context_limit(model)
    sequences, lengths = [], []
    for head, tail in encoded:
        sequence = (head + tail)[-limit:]
        sequences.append(sequence)
        lengths.append(min(len(tail), len(sequence) - 1))
    shared: dict[tuple[int, ...], list[int]] = {}
    for i, sequence in enumerate(sequences):
        shared.setdefault(tuple(sequence[:-1]), []).append(i)
    groups = list(shared.values())
    keep_only = _takes_logits_to_keep(model)
    results = [0.0] * len(encoded)
    for batch in length_batches([len(sequences[g[0]]) for g in groups], batch_size):
        members = [groups[b] for b in batch]
        longest = max(lengths[i] for group in members for i in group)
        if longest > 0:
            ids, mask = left_pad([sequences[g[0]] for g in members], pad_id, model.device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            extra = {"logits_to_keep": longest + 1} if keep_only else {}
            with torch.inference_mode():
                logits = model(
                    input_ids=ids, attention_mask=mask, position_ids=positions, **extra
                ).logits[:, -(longest + 1) : -1]
                logprobs = logits.float().log_softmax(-1)
                targets = ids[:, -longest:].unsqueeze(-1)
                token_logprobs = logprobs.gather(-1, targets).squeeze(-1).cpu()
                last = logprobs[:, -1].cpu()
            for row, group in enumerate(members):
                for i in group:
                    if lengths[i]:
                        before = token_logprobs[row, -lengths[i] : -1].sum()
                        results[i] = float(before + last[row, sequences[i][-1]])
        if on_progress is not None:
            on_progress(sum(len(group) for group in members))
    return results
