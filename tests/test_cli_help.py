"""``servflow --help`` and every subcommand's help read as plain text in a terminal."""

from __future__ import annotations

import re

import pytest

from servflow.cli import COMMANDS, main

# reST / Sphinx roles (:class:`x`, :func:`x`), inline literals (``x``), any backtick
# (Markdown code), and the cross-reference shorthand ~servflow.
MARKUP = re.compile(r":[a-z]+:`|``|`|~servflow|\.\. [a-z]+::")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [(), *((c,) for c in COMMANDS)], ids=lambda a: " ".join(a) or "servflow"
)
def test_help_has_no_markup(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    text = _help(capsys, *argv)
    assert text.startswith("usage: servflow")
    assert MARKUP.findall(text) == [], text


def test_the_pattern_finds_docstring_markup() -> None:
    # The check above is only as good as this pattern.
    for sample in (
        ":class:`~servflow.Desk`",
        "``--db URL``",
        "the `scenarios` folder",
        ":func:`x`",
    ):
        assert MARKUP.search(sample), sample
    assert not MARKUP.search("Run sample cases; exit 0 when all pass, 1 when any fails.")
