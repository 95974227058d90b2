"""The ``elevant`` task: entity disambiguation on ELEVANT benchmark JSONL, mapped into
``entity_disambiguation``.

An ELEVANT file has one document per line: ``text`` and ``labels`` (``span``, Wikidata
``entity_id``, ``name``, ``type`` as Wikidata type ids). It carries no knowledge base, so
candidates and descriptions are built from the benchmark itself, which is this task's
limitation:

- candidates of a mention: its gold entity plus other entities of the same file, those whose
  names share the most words with the mention first, then those of the same type;
- a description: the entity's type names and the names of the entities mentioned with it in
  the *other* documents of the file (leave-one-out, so the record's own document never
  leaks into it). An entity seen in one document only is described by its type alone.

Unlinkable mentions (``<NIL>``, ``<NO_MAPPING>``) are skipped. The gold answer is the entity
name; candidate order is a fixed shuffle per mention. Metric: accuracy (0-100).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from cookbook import (
    UNSET,
    CookbookError,
    Param,
    Params,
    PromptFormat,
    SampleRandom,
    Task,
    TaskRecord,
    check_outputs,
    normalize_tokens,
    read_jsonl,
    require_field,
)
from cookbook_plugins.entity_disambiguation.template import (
    STOPWORDS,
    chosen_candidate,
    entity_disambiguation,
    format_candidates,
)

SUFFIX = ".benchmark.jsonl"
_WORD = re.compile(r"\S+")

#: Names of the Wikidata types ELEVANT evaluates with (its whitelist_types.tsv).
TYPE_NAMES = {
    "Q215627": "person",
    "Q95074": "fictional character",
    "Q27096213": "geographic entity",
    "Q3895768": "fictional location",
    "Q43229": "organization",
    "Q17537576": "creative work",
    "Q2424752": "product",
    "Q1656682": "event",
    "Q431289": "brand",
    "Q483394": "genre",
    "Q17376908": "languoid",
    "Q43460564": "chemical entity",
    "Q16521": "taxon",
    "Q9174": "religion",
    "Q7257": "ideology",
    "Q4164871": "position",
    "Q12737077": "occupation",
    "Q11862829": "academic discipline",
    "Q21070598": "narrative entity",
    "Q618779": "award",
    "Q12136": "disease",
    "Q4392985": "religious identity",
    "Q373899": "record chart",
    "Q22222786": "government program",
    "Q33829": "human population",
    "Q1075": "color",
    "Q179661": "treatment",
    "Q169872": "symptom",
    "Q4936952": "anatomical structure",
    "Q349": "sport",
    "Q729": "animal",
}


@dataclass
class Mention:
    """One linked mention: where it is, its text and gold entity."""

    doc: int
    index: str
    text: str
    start: int
    end: int
    entity: str


@dataclass
class Entity:
    """What the benchmark says about one entity: its name and type names."""

    name: str
    types: list[str]


def benchmark_file(task: str, path: str | Path, split: str | None) -> Path:
    """``path`` itself, or ``<split>.benchmark.jsonl`` in the folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CookbookError(f"task {task!r}: {path}: no such file or folder")
    found = sorted(p.name[: -len(SUFFIX)] for p in path.glob(f"*{SUFFIX}"))
    if split is None or split not in found:
        wanted = "name a benchmark with --split" if split is None else f"no benchmark {split!r}"
        raise CookbookError(
            f"task {task!r}: {path}: {wanted} (found: {', '.join(found) or 'none'})"
        )
    return path / f"{split}{SUFFIX}"


def _words(text: str) -> set[str]:
    return {t for t in normalize_tokens(text) if t not in STOPWORDS}


def _type_names(types: str) -> list[str]:
    return [TYPE_NAMES.get(t, t) for t in types.split("|") if t and t != "OTHER"]


def _rng(*key: Any) -> SampleRandom:
    digest = hashlib.blake2b("\x00".join(map(str, key)).encode(), digest_size=8).digest()
    return SampleRandom(int.from_bytes(digest, "little"))


class Benchmark:
    """The documents, linked mentions and entity inventory of one ELEVANT file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.texts: list[str] = []
        self.doc_ids: list[str] = []
        self.mentions: list[Mention] = []
        self.entities: dict[str, Entity] = {}
        for number, doc in read_jsonl(path):
            self._add(number, doc)

    def _add(self, number: int, doc: dict[str, Any]) -> None:
        where = f"{self.path}:{number}"
        text = require_field(doc, "text", str, where)
        index = len(self.texts)
        self.texts.append(text)
        self.doc_ids.append(str(doc.get("id", index)))
        for i, label in enumerate(require_field(doc, "labels", list, where)):
            at = f"{where}: labels[{i}]"
            if not isinstance(label, dict):
                raise CookbookError(f"{at}: expected a JSON object")
            span = require_field(label, "span", list, at)
            entity = require_field(label, "entity_id", str, at)
            if len(span) != 2 or not all(isinstance(x, int) for x in span):
                raise CookbookError(f"{at}: 'span' must be [start, end]")
            start, end = span
            if not 0 <= start < end <= len(text):
                raise CookbookError(f"{at}: span {span} is outside the text")
            if entity.startswith("<") or not entity:
                continue  # <NIL>, <NO_MAPPING>: no entity to link to
            name = require_field(label, "name", str, at)
            types = label.get("type") if isinstance(label.get("type"), str) else ""
            self.entities.setdefault(entity, Entity(name, _type_names(types)))
            self.mentions.append(
                Mention(index, str(label.get("id", i)), text[start:end], start, end, entity)
            )

    def co_mentions(self) -> dict[str, dict[int, Counter]]:
        """entity -> document -> Counter of the other entities mentioned in that document."""
        by_doc: dict[int, Counter] = defaultdict(Counter)
        for m in self.mentions:
            by_doc[m.doc][m.entity] += 1
        result: dict[str, dict[int, Counter]] = defaultdict(dict)
        for doc, counts in by_doc.items():
            for entity in counts:
                result[entity][doc] = Counter({e: c for e, c in counts.items() if e != entity})
        return result


class ElevantTask(Task):
    """Entity disambiguation over ELEVANT benchmark files (KORE50, MSNBC, ...)."""

    name = "elevant"
    template = "entity_disambiguation"
    mode = "generate"
    main_metric = "accuracy"
    description = (
        "Entity disambiguation on ELEVANT benchmark JSONL; candidates and descriptions built"
        " from the benchmark's own entities (no knowledge base offline); accuracy."
    )

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        prompt: PromptFormat = UNSET,
        candidates: Annotated[int, Param(minimum=2)] = 4,
        window: Annotated[
            int, Param("Words of context kept on each side of the mention.", minimum=1)
        ] = 60,
        related: Annotated[
            int, Param("Co-mentioned entities named in a description, at most.", minimum=0)
        ] = 8,
    ) -> Iterator[TaskRecord]:
        """Records of the benchmark at ``path`` (a file, or a folder and ``split`` = its name)."""
        bench = Benchmark(benchmark_file(self.name, path, split))
        co_mentions = bench.co_mentions()
        params = {} if prompt is UNSET else {"prompt": prompt}
        for m in bench.mentions:
            options = self._candidates(bench, m, candidates)
            described = [
                (bench.entities[e].name, self._describe(bench, co_mentions, e, m.doc, related))
                for e in options
            ]
            slots = {
                "context": _window(bench.texts[m.doc], m.start, m.end, window),
                "mention": m.text,
                "candidates": format_candidates(described),
            }
            names = [name for name, _ in described]
            gold = bench.entities[m.entity].name
            yield TaskRecord(
                id=f"{bench.doc_ids[m.doc]}-{m.index}",
                slots=slots,
                answers=[gold],
                prompt=entity_disambiguation.render({**slots, "answer": gold}, params)[0],
                choices=names,
                gold=names.index(gold),
                meta={"entity_id": m.entity},
            )

    @staticmethod
    def _candidates(bench: Benchmark, mention: Mention, size: int) -> list[str]:
        """The gold entity and ``size - 1`` others (most name words shared, then same type),
        in a fixed per-mention shuffle; entities sharing the gold name are left out."""
        gold = bench.entities[mention.entity]
        words = _words(mention.text)
        rng = _rng(bench.path.name, mention.doc, mention.index)
        others = [
            (-len(words & _words(info.name)), -len(set(info.types) & set(gold.types)), e)
            for e, info in sorted(bench.entities.items())
            if e != mention.entity and info.name != gold.name
        ]
        order = {e: rng.random() for _, _, e in others}
        others.sort(key=lambda o: (o[0], o[1], order[o[2]]))
        chosen = [mention.entity] + [e for _, _, e in others[: size - 1]]
        rng.shuffle(chosen)
        return chosen

    @staticmethod
    def _describe(
        bench: Benchmark,
        co_mentions: dict[str, dict[int, Counter]],
        entity: str,
        doc: int,
        related: int,
    ) -> str:
        """Type names, then the entities most often mentioned with ``entity`` outside ``doc``."""
        counts: Counter = Counter()
        for other_doc, with_counts in co_mentions.get(entity, {}).items():
            if other_doc != doc:
                counts.update(with_counts)
        names = sorted(counts, key=lambda e: (-counts[e], bench.entities[e].name))[:related]
        kinds = ", ".join(bench.entities[entity].types) or "entity"
        if not names:
            return kinds
        return f"{kinds}; mentioned with " + ", ".join(bench.entities[e].name for e in names)

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``accuracy`` (0-100): the output names the gold candidate (exactly after
        normalisation, or as the single best fuzzy match among the candidates)."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"accuracy": 0.0}
        correct = sum(
            chosen_candidate(str(output), record.choices or record.answers) == record.answers[0]
            for record, output in zip(records, outputs, strict=True)
        )
        return {"accuracy": 100 * correct / len(records)}

    params = Params.of(read)


def _window(text: str, start: int, end: int, size: int) -> str:
    """The text from ``size`` words before the mention to ``size`` words after it."""
    before = [m.start() for m in _WORD.finditer(text, 0, start) if m.end() < start]
    after = [m.end() for m in _WORD.finditer(text, end) if m.start() > end]
    first = before[-size] if len(before) >= size else 0
    last = after[size - 1] if len(after) >= size else len(text)
    return " ".join(text[first:last].split())


elevant = ElevantTask()
