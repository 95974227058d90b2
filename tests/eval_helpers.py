"""Shared pieces of the evaluation tests: a fake plugin with small tasks, and reference
computations written directly on the model (no batching, no padding, no KV cache)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SQUAD = FIXTURES / "qa" / "squad_small.json"
WORDS = [f"w{i}" for i in range(12)]

#: A third-party style plugin: a copy template and task (generate), a pick-first template and
#: task (choice), and a token space of the tiny model's words.
FAKE_PLUGIN = """
from typing import Annotated

from cookbook import UNSET, Param, Params, TaskRecord, TokenSpace, hookimpl, template

WORDS = [f"w{i}" for i in range(12)]


@template(family="search", prompt="copy {word} to", rule=lambda slots: slots["word"])
def copy_word(rng, tokens, length: int = 1):
    return {"word": " ".join(tokens.draw(rng, length))}


def pick_prompt(slots):
    return "pick " + " ".join(slots["options"]) + " answer"


@template(
    family="selection",
    prompt=pick_prompt,
    slots=("options", "answer"),
    rule=lambda slots: slots["options"][0],
)
def pick_first(rng, tokens):
    return {"options": tokens.distinct(rng, 3)}


def _lines(path):
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line.split()


class CopyTask:
    name = "copy"
    template = "copy_word"
    mode = "generate"
    main_metric = "accuracy"
    seen = None

    def read(self, path, split=None, *, prompt: Annotated[str, Param("Prompt format.")] = UNSET):
        params = {} if prompt is UNSET else {"prompt": prompt}
        for number, (word, answer) in _lines(path):
            slots = {"word": word}
            yield TaskRecord(
                id=f"copy-{number}",
                slots=slots,
                answers=[answer],
                prompt=copy_word.render({**slots, "answer": answer}, params)[0],
            )

    def metric(self, records, outputs):
        type(self).seen = list(outputs)
        right = sum(o == r.answers[0] for r, o in zip(records, outputs))
        words = sum(len(o.split()) for o in outputs)
        return {"accuracy": 100 * right / len(records), "words": words / len(outputs)}

    params = Params.of(read)


class PickTask:
    name = "pick"
    template = "pick_first"
    mode = "choice"
    main_metric = "accuracy"
    params = Params()
    seen = None

    def read(self, path, split=None):
        for number, words in _lines(path):
            options, gold = words[:-1], int(words[-1])
            yield TaskRecord(
                id=f"pick-{number}",
                slots={"options": options},
                answers=[options[gold]],
                prompt=pick_prompt({"options": options}),
                choices=[" " + o for o in options],
                gold=gold,
            )

    def metric(self, records, outputs):
        type(self).seen = [list(o) for o in outputs]
        chosen = [max(range(len(o)), key=o.__getitem__) for o in outputs]
        right = sum(c == r.gold for r, c in zip(records, chosen))
        return {"accuracy": 100 * right / len(records)}


@hookimpl
def register_templates(register):
    register(copy_word)
    register(pick_first)


@hookimpl
def register_tasks(register):
    register(CopyTask())
    register(PickTask())


@hookimpl
def register_token_spaces(register):
    register(TokenSpace("tiny_words", WORDS))
"""

COPY_DATA = "w1 w1\nw2 w5\nw3 w3\nw7 w0\nw11 w11\n"
PICK_DATA = "w1 w2 w3 0\nw4 w5 w6 1\nw7 w8 w9 2\nw10 w11 w0 0\nw3 w6 w9 1\n"


def one_thread(monkeypatch):
    """Run a test's tiny model on one thread (faster than several on a shared machine), and
    restore torch's setting afterwards."""
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_vocabulary() -> list[str]:
    """The fake plugin's words and every word of the SQuAD fixture, so nothing is unknown."""
    squad = json.loads(SQUAD.read_text())
    text = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            text.append(paragraph["context"])
            for qa in paragraph["qas"]:
                text.append(qa["question"])
                text.extend(a["text"] for a in qa.get("answers", []))
    extra = ["copy", "to", "pick", "answer", "Context:", "Question:", "Answer:"]
    return sorted(set(WORDS + extra + " ".join(text).split()))


def write_data(folder: Path) -> tuple[Path, Path]:
    """The copy and pick data files."""
    copy, pick = folder / "copy.txt", folder / "pick.txt"
    copy.write_text(COPY_DATA)
    pick.write_text(PICK_DATA)
    return copy, pick


def load_reference(folder: Path):
    """The saved tiny model and tokenizer, loaded plainly in fp32 on CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def reference_greedy(model, tokenizer, text: str, steps: int, add_special_tokens: bool) -> str:
    """Greedy decoding one token at a time with a full forward pass each step."""
    import torch

    ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
    new: list[int] = []
    for _ in range(steps):
        with torch.no_grad():
            logits = model(torch.tensor([ids + new])).logits[0, -1]
        token = int(logits.argmax())
        if token == tokenizer.eos_token_id:
            break
        new.append(token)
    return tokenizer.decode(new, skip_special_tokens=True).strip()


def reference_logprob(model, tokenizer, context: str, continuation: str, special: bool) -> float:
    """Summed log-probability of the continuation's tokens after the context's, unpadded."""
    import torch

    head = tokenizer(context, add_special_tokens=special)["input_ids"]
    tail = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([head + tail])).logits[0].float()
    logprobs = logits.log_softmax(-1)
    return float(sum(logprobs[len(head) + i - 1, t] for i, t in enumerate(tail)))
