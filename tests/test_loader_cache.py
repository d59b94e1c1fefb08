"""The loader's disk cache: a file read from it gives what loading it afresh gives.

Every property compares three loads of the same bytes: without the cache (``load_text``),
through the cache when it has no entry (which writes one) and through the cache again
(which reads it): the diagnostics, the procedure (and its digest), the calendars and the
positions must be the same. Then: entries that were altered, belong to another file or
were written by other code are not used; a folder that cannot be written to turns the
cache off; nothing in an entry is run or unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow.engine.registry import digest_of
from servflow.procedures import cache, load_catalogue, load_file, load_text
from servflow.procedures.load import LoadResult
from servflow.procedures.source import SourceMap

REPO = Path(__file__).resolve().parent.parent
CORPUS = sorted(
    [*REPO.glob("procedures/*.yaml"), *REPO.glob("tests/mistakes/*.yaml")],
    key=lambda p: (p.parent.name, p.name),
)
TOKENS = ["to", "from", "when", "roles", "office", "always", "1 day", "{", "]", ": x", "'", "-"]


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as made:
        monkeypatch.setenv(cache.ENV, made)
        yield Path(made)


def entries(folder: Path) -> list[Path]:
    return sorted((folder / f"procedures-v{cache.FORMAT}").glob("*.json"))


def positions(smap: SourceMap | None) -> object:
    if smap is None:
        return None
    return (smap.file, smap.values, smap.keys, smap.lines, smap.aliased)


def same(a: LoadResult, b: LoadResult) -> None:
    assert a.file == b.file
    assert a.diagnostics == b.diagnostics
    assert a.procedure == b.procedure
    if a.procedure is not None and b.procedure is not None:
        assert digest_of(a.procedure) == digest_of(b.procedure)
        assert a.procedure.model_fields_set == b.procedure.model_fields_set
    assert a.calendars == b.calendars
    assert positions(a.source_map) == positions(b.source_map)


def three_loads(path: Path, folder: Path) -> None:
    fresh = load_text(path.read_bytes(), str(path))
    written = load_file(path)
    read = load_file(path)
    same(fresh, written)
    same(fresh, read)


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file of the corpus (shipped procedures and analysts' mistakes), edited a little."""
    source = draw(st.sampled_from(CORPUS))
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "token", "cut"]))
        if action == "drop":
            del lines[at]
        elif action == "repeat":
            lines.insert(at, lines[at])
        elif action == "token":
            line = lines[at]
            where = draw(st.integers(0, len(line)))
            lines[at] = line[:where] + draw(st.sampled_from(TOKENS)) + line[where:]
        else:
            lines = lines[: at + 1]
    return source.name, "".join(lines).encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_a_file_read_from_the_cache_is_what_loading_it_gives(case: tuple[str, bytes]) -> None:
    name, raw = case
    with tempfile.TemporaryDirectory() as made, pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.ENV, made)
        path = Path(made) / name
        path.write_bytes(raw)
        three_loads(path, Path(made))
        # the calendar files beside a procedure are read through the cache too
        (Path(made) / "calendars.yaml").write_bytes(
            (REPO / "procedures/calendars.yaml").read_bytes()
        )
        first = load_catalogue([path])
        again = load_catalogue([path])
        patch.setenv(cache.ENV, "off")
        without = load_catalogue([path])
    assert first.diagnostics == again.diagnostics == without.diagnostics
    assert first.procedures == again.procedures == without.procedures
    assert first.calendars == again.calendars == without.calendars


def test_every_shipped_file_and_mistake_reads_back_the_same(folder: Path) -> None:
    for path in CORPUS:
        three_loads(path, folder)
    assert len(entries(folder)) == len(CORPUS)


def test_a_catalogue_from_the_cache_reports_its_cross_file_problems_in_place(
    folder: Path, tmp_path: Path
) -> None:
    """The positions of an entry are parsed again only when a cross-file check needs one."""
    text = (REPO / "procedures/repair.yaml").read_text(encoding="utf-8")
    (tmp_path / "repair.yaml").write_text(
        text.replace("calendar: office", "calendar: ofice", 1), encoding="utf-8"
    )
    # The callback its completion opens is read from beside it, as the link check does.
    shutil.copy(REPO / "procedures/callback.yaml", tmp_path / "callback.yaml")
    without = load_catalogue([tmp_path / "repair.yaml"])
    first = load_catalogue([tmp_path / "repair.yaml"])
    cached = load_catalogue([tmp_path / "repair.yaml"])
    assert [d.code for d in cached.errors] == ["unknown-calendar"]
    assert cached.diagnostics == first.diagnostics == without.diagnostics
    assert cached.errors[0].line == text.splitlines().index("calendar: office") + 1


def test_an_edited_file_is_loaded_again(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "repair.yaml"
    text = (REPO / "procedures/repair.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    assert load_file(path).ok
    path.write_text(text.replace("calendar: office", "calendar: ofice", 1), encoding="utf-8")
    assert not load_catalogue([path]).procedures
    assert len(entries(folder)) == 2  # one for each text of the file
    path.write_text(text, encoding="utf-8")
    assert load_file(path).ok


def test_another_name_or_other_code_gives_another_key(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (REPO / "procedures/repair.yaml").read_bytes()
    key = cache.entry_key(raw, "procedures/repair.yaml")
    assert cache.entry_key(raw, "elsewhere/repair.yaml") != key
    assert cache.entry_key(raw + b"\n", "procedures/repair.yaml") != key
    monkeypatch.setattr(cache, "code_stamp", lambda: "other code")
    assert cache.entry_key(raw, "procedures/repair.yaml") != key


def test_the_code_stamp_changes_when_a_module_of_servflow_does(tmp_path: Path) -> None:
    module = Path(cache.__file__)
    before = module.stat()
    cache.code_stamp.cache_clear()
    first = cache.code_stamp()
    try:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        cache.code_stamp.cache_clear()
        assert cache.code_stamp() != first
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
        cache.code_stamp.cache_clear()
    assert cache.code_stamp() == first


def test_the_code_stamp_counts_compiled_modules_too() -> None:
    """A compiled build's extension modules are servflow's code as much as its sources
    (hatch_build.py): the stamp changes with them, so one build never reads procedures
    the other compiled and cached."""
    package = Path(cache.__file__).resolve().parent.parent
    probe = package / "engine" / f"_stamp_probe{EXTENSION_SUFFIXES[0]}"
    assert not probe.exists()
    cache.code_stamp.cache_clear()
    first = cache.code_stamp()
    try:
        probe.write_bytes(b"not really an extension")
        cache.code_stamp.cache_clear()
        assert cache.code_stamp() != first
    finally:
        probe.unlink(missing_ok=True)
        cache.code_stamp.cache_clear()
    assert cache.code_stamp() == first


@pytest.mark.parametrize(
    "spoil",
    [
        lambda entry: b"\x00not json",
        lambda entry: entry[: len(entry) // 2],
        lambda entry: json.dumps({**json.loads(entry), "extra": 1}).encode(),
        lambda entry: json.dumps({**json.loads(entry), "format": 2}).encode(),
        lambda entry: json.dumps({**json.loads(entry), "file": "other.yaml"}).encode(),
        lambda entry: json.dumps({**json.loads(entry), "key": "0" * 64}).encode(),
        # data that no longer validates as a procedure: the file is loaded again
        lambda entry: json.dumps({**json.loads(entry), "data": {"id": 7}}).encode(),
        # a pickle where JSON should be is only bytes that do not parse
        lambda entry: b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.",
    ],
    ids=["garbage", "half", "extra-key", "format", "file", "key", "data", "pickle"],
)
def test_an_altered_or_foreign_entry_is_ignored_and_written_again(
    folder: Path, spoil: object
) -> None:
    path = REPO / "procedures/repair.yaml"
    fresh = load_text(path.read_bytes(), str(path))
    load_file(path)
    [entry] = entries(folder)
    good = entry.read_bytes()
    entry.write_bytes(spoil(good))  # type: ignore[operator]
    same(fresh, load_file(path))
    assert entry.read_bytes() == good


def test_an_entry_of_another_file_is_not_used_for_this_one(folder: Path) -> None:
    repair, complaint = REPO / "procedures/repair.yaml", REPO / "procedures/complaint.yaml"
    load_file(repair)
    [entry] = entries(folder)
    key = cache.entry_key(complaint.read_bytes(), str(complaint))
    (entry.parent / f"{key}.json").write_bytes(entry.read_bytes())
    result = load_file(complaint)
    assert result.procedure is not None
    assert result.procedure.id == "complaint"


def test_a_value_json_cannot_hold_is_never_kept(folder: Path, tmp_path: Path) -> None:
    """NaN is no JSON: an entry keeps a file's data only when JSON gives it back exactly."""
    path = tmp_path / "odd.yaml"
    path.write_text("servflow: 1\nid: odd\nversion: .nan\n", encoding="utf-8")
    fresh = load_text(path.read_bytes(), str(path))
    same(fresh, load_file(path))
    same(fresh, load_file(path))
    assert all(json.loads(e.read_bytes())["data"] is None for e in entries(folder))


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_folder() is None
    monkeypatch.delenv(cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_folder() == tmp_path / "servflow"


def test_a_folder_that_cannot_be_written_to_leaves_loading_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(cache.ENV, str(blocker))
    path = REPO / "procedures/repair.yaml"
    same(load_text(path.read_bytes(), str(path)), load_file(path))


def test_entries_are_kept_in_a_folder_of_the_owners_own(folder: Path) -> None:
    load_file(REPO / "procedures/repair.yaml")
    [entry] = entries(folder)
    assert entry.parent.stat().st_mode & 0o077 == 0
    assert not list(entry.parent.glob(".*.tmp"))  # written whole, then renamed


def test_one_pass_aliasing_is_aliasing_each_prefix_in_turn() -> None:
    raw = (REPO / "procedures/repair.yaml").read_bytes()
    from servflow.procedures.source import read_yaml

    data, one, _ = read_yaml(raw, "repair.yaml")
    _, each, _ = read_yaml(raw, "repair.yaml")
    prefixes = [("transitions", name) for name, value in data["transitions"].items()]
    one.alias_all(prefixes, 0)
    for prefix in prefixes:
        each.alias(prefix, 0)
    assert positions(one) == positions(each)
    assert list(one.values) == list(each.values)


_FRESH_PROCESS = """
import json, sys
import servflow
engine = servflow.Engine.from_directory(sys.argv[1])
digests = {f"{p.id} v{p.version}": engine._compiled(p.id, p.version).digest
           for p in engine.procedures()}
print(json.dumps({"yaml": "yaml" in sys.modules, "digests": digests}))
"""


def test_a_catalogue_read_whole_from_the_cache_imports_no_yaml(folder: Path) -> None:
    # PyYAML is imported when a file is first parsed (servflow.procedures.yaml_nodes):
    # a host whose files are all in the cache starts without it, with the same engine.
    def run() -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-c", _FRESH_PROCESS, str(REPO / "procedures")],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, cache.ENV: str(folder)},
        ).stdout
        return dict(json.loads(out))

    filling, filled = run(), run()
    assert filling["yaml"] is True  # the files were parsed, and their entries written
    assert filled["yaml"] is False
    assert filled["digests"] == filling["digests"]
