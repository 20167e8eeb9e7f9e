"""The kiosk page's words: every key its html and script use is in every locale's kiosk catalogue (or the shared
one), each locale is a translation rather than an English copy, and every reason a reader, the basket or the
session can refuse with has plain words (the screen never shows a bare code)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import edge_agent

PACKAGE = Path(edge_agent.__file__).parent
STATIC = PACKAGE / "screen" / "static"
LOCALES = ("en", "de", "pl", "et", "ru")
SAME_IN_EVERY_LANGUAGE = 0.1
"""At most this share of a translation may equal the English (a word like "Total" may be the same); more is a copy."""


def kiosk(locale: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "messages" / locale / "kiosk.json").read_text(encoding="utf-8")))


def keys_used() -> set[str]:
    html = (STATIC / "kiosk.html").read_text(encoding="utf-8")
    script = (STATIC / "kiosk.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-msg(?:-label)?="([a-z0-9_]+)"', html))
    used |= set(re.findall(r'msg\("([a-z0-9_]*[a-z0-9])"', script))  # "reason_" + code: the reasons' own test
    for pair in re.findall(r'msg\(\w+ \? "([a-z0-9_]+)" : "([a-z0-9_]+)"', script):  # msg(sealed ? "a" : "b")
        used |= set(pair)
    return used


def refusal_reasons() -> set[str]:
    """The stable reason codes of the readers' and identifiers' rejections and the basket's and session's rules."""
    pattern = re.compile(r'\b(?:InvalidCode|_reject|RejectedTag|Refused|IdentityRejected|_refuse)\(\s*"([a-z_]+)"')
    sources = [*(PACKAGE / "identifiers").glob("*.py"), *(PACKAGE / "readers" / "nfc").glob("*.py")]
    sources += [PACKAGE / "domain" / "basket.py", PACKAGE / "domain" / "session.py"]
    sources += [PACKAGE / "identity" / "tokens.py", PACKAGE / "roles" / "sessions.py"]
    return {m for path in sources for m in pattern.findall(path.read_text(encoding="utf-8"))}


def test_the_scan_reject_reasons_are_found_at_all() -> None:
    assert {"bad_check_digit", "not_an_ndef_tag", "not_in_basket", "expired_code"} <= refusal_reasons()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_the_kiosk_page_uses_is_in_the_locale(locale: str) -> None:
    common = STATIC / "messages" / "en" / "common.json"
    shared = set(json.loads(common.read_text(encoding="utf-8")))  # the shared catalogue's keys (not ours)
    missing = keys_used() - set(kiosk(locale)) - shared
    assert not missing, f"{locale}/kiosk.json lacks {sorted(missing)}"
    assert set(kiosk(locale)) == set(kiosk("en")), "every locale has the same kiosk keys"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_refusal_reason_has_words_in_the_locale(locale: str) -> None:
    words = kiosk(locale)
    missing = {r for r in refusal_reasons() | {"unknown", "unreadable"} if f"reason_{r}" not in words}
    assert not missing, f"{locale}/kiosk.json has no words for {sorted(missing)}"


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_a_locale_is_a_translation_not_an_english_copy(locale: str) -> None:
    en, words = kiosk("en"), kiosk(locale)
    same = [k for k in en if words[k] == en[k]]
    assert len(same) <= SAME_IN_EVERY_LANGUAGE * len(en), f"{locale} copies English for {same}"
    for key, text in en.items():
        assert set(re.findall(r"\{\w+\}", words[key])) == set(re.findall(r"\{\w+\}", text)), f"{locale} {key}"


def test_the_language_chooser_offers_every_locale_named_in_its_own_language() -> None:
    html = (STATIC / "kiosk.html").read_text(encoding="utf-8")
    options = re.findall(r'<option value="(\w+)" lang="(\w+)">([^<]+)</option>', html)
    assert [(value, name) for value, lang, name in options if value == lang] == [
        ("en", "English"), ("de", "Deutsch"), ("pl", "Polski"), ("et", "Eesti"), ("ru", "Русский"),
    ]  # fmt: skip
    assert '<label for="locale"' in html
