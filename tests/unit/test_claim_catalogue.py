"""The kiosk's claim corner speaks every shipped language: each key its markup and script use is in the kiosk
catalogue of en, de, pl, et and ru, with the same placeholders, and translated (not a copy of the English)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "edge_agent" / "screen" / "static"
LOCALES = ("en", "de", "pl", "et", "ru")


def claim_keys() -> set[str]:
    html = (STATIC / "kiosk.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="claim"') : html.index("</section>", html.index('<section id="claim"'))]
    script = (STATIC / "claim.js").read_text(encoding="utf-8")
    return set(re.findall(r'data-msg="([a-z_]+)"', section)) | set(re.findall(r'msg\("([a-z_]+)"', script))


def kiosk_catalogue(locale: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((STATIC / "messages" / locale / "kiosk.json").read_text(encoding="utf-8"))
    return loaded


def test_the_claim_corner_uses_its_own_keys() -> None:
    assert claim_keys() == {"claim_title", "claim_explain", "claim_qr_alt", "claim_expires", "claim_done"}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_claim_key_is_translated_with_the_same_placeholders(locale: str) -> None:
    english, here = kiosk_catalogue("en"), kiosk_catalogue(locale)
    for key in sorted(claim_keys()):
        assert key in here, f"{locale}/kiosk.json lacks {key}"
        assert set(re.findall(r"\{\w+\}", here[key])) == set(re.findall(r"\{\w+\}", english[key])), key
        if locale != "en":
            assert here[key] != english[key], f"{locale}/{key} is the English text"
