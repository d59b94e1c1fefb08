"""Every record form, rendered as a person sees it: headless Chromium takes its picture.

Each form of the standard catalogue is rendered for a case that fills it in, written to
an HTML file and photographed by Debian's ``chromium`` at A4 size (794 x 1123 CSS pixels).
The test checks what the HTML says (the form's localized title and field titles, the
case number, personal data masked) and that the picture is a real, non-blank A4 PNG;
it does not compare pixels (they vary with fonts and versions). Set
``SERVFLOW_WRITE_FORM_PICTURES=1`` to keep the pictures in ``docs/forms/``.

Without ``chromium`` the test is skipped, unless ``SERVFLOW_REQUIRE_PARSERS=1`` (set by
``.ci/run``, which installs it with the CJK fonts the forms need).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from servflow import Engine
from servflow.model import LANGUAGES
from servflow.render.forms import LABELS, Forms, template_names
from tests.forms_cases import SECRETS, filled_cases
from tests.parsers import REQUIRED

REPO = Path(__file__).resolve().parent.parent
PICTURES = REPO / "docs" / "forms"
ENGINE = Engine.standard()
CASES = filled_cases(ENGINE)
# The forms of each procedure's latest version, which the cases of forms_cases run on (a
# form only an older version names, as repair version 2's own 回訪記錄表, is left out).
FORMS = [
    (proc.id, named.name)
    for proc in ENGINE.procedures()
    if proc.version == ENGINE.procedure(proc.id).version
    for named in template_names(proc)
    if named.kind == "record"
]
# One language per form, in turn, so that every language is seen.
PICTURED = [(proc, name, LANGUAGES[i % 3]) for i, (proc, name) in enumerate(FORMS)]
WIDTH, HEIGHT = 794, 1123
ORGANISATION = {
    "zh-Hant": "海景花園物業管理處",
    "zh-Hans": "海景花园物业管理处",
    "en": "Seaview Gardens Property Management Office",
}


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if REQUIRED:
            pytest.fail("chromium is missing and SERVFLOW_REQUIRE_PARSERS=1")
        pytest.skip("chromium is not installed (see .ci/run)")
    assert found is not None
    return found


def _png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, width, height, idat = 8, 0, 0, b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.parametrize(("procedure", "name", "lang"), PICTURED, ids=lambda v: str(v))
def test_each_form_is_a_printable_a4_page(procedure, name, lang, tmp_path):
    chromium = _chromium()
    proc = ENGINE.procedure(procedure)
    html = Forms.standard().render(
        proc, CASES[procedure], name, lang, organisation=ORGANISATION[lang]
    )
    # What a person reads: the form's fields under their titles in this language, the
    # case number, and no personal data.
    for spec in proc.fields.values():
        if spec.form == name:
            assert f"<th>{spec.title[lang]}</th>" in html
    assert CASES[procedure].id in html
    for secret in SECRETS:
        assert secret not in html
    # Each pii field on the form shows the mask in place of its value.
    for field, spec in proc.fields.items():
        if spec.pii and f"<th>{spec.title[lang]}</th>" in html:
            masked = f"<th>{spec.title[lang]}</th><td>{LABELS['masked'][lang]}</td>"
            assert masked in html, field

    page = tmp_path / "form.html"
    page.write_text(html, encoding="utf-8")
    picture = tmp_path / "form.png"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--screenshot={picture}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    width, height, pixels = _png(picture)
    assert (width, height) == (WIDTH, HEIGHT)
    assert pixels.count(b"\xff") < len(pixels) * 0.995, "the page is blank"
    if os.environ.get("SERVFLOW_WRITE_FORM_PICTURES") == "1":
        PICTURES.mkdir(exist_ok=True)
        shutil.copy(picture, PICTURES / f"{procedure}-{name}.{lang}.png")
