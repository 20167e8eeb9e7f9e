"""The mirror's and the shelf's pages speak every locale: each key their html and script use is in each locale's
page catalogue (or, for the few shared words, in the common one), every locale has the same keys with the same
placeholders, and a translation is not an English copy."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

STATIC = Path(str(resources.files("edge_agent.screen").joinpath("static")))
LOCALES = ("en", "de", "pl", "et", "ru")
SHARED = frozenset({"refused", "action_failed", "price_at_checkout"})
"""Words the pages take from common.json (screen.js uses them): owned with that catalogue."""
DYNAMIC = {
    "mirror": [f"mirror_state_{s}" for s in ("requested", "acknowledged", "delivered", "cancelled")],
    "shelf": [],
}
"""Keys the script builds from a view's state ("mirror_state_" + state)."""
SAME_IN_EVERY_LANGUAGE = frozenset({"shelf_announce"})
"""Only placeholders ("{name}: {price}"): nothing to translate."""


def used_keys(page: str) -> set[str]:
    html = (STATIC / f"{page}.html").read_text()
    script = (STATIC / f"{page}.js").read_text()
    keys = set(re.findall(r'data-msg(?:-label)?="([a-z_]+)"', html))
    keys |= set(re.findall(r'"((?:mirror|shelf)_[a-z_]+)"', script)) - {f"{page}_state_"}
    keys |= set(re.findall(r'msg\("([a-z_]+)"', script)) - {"reason_", f"{page}_state_"}
    return keys | set(DYNAMIC[page])


def catalogue(locale: str, page: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "messages" / locale / f"{page}.json").read_text()))


@pytest.mark.parametrize("page", ["mirror", "shelf"])
def test_every_key_a_page_uses_is_in_every_locale(page: str) -> None:
    for locale in LOCALES:
        missing = used_keys(page) - SHARED - set(catalogue(locale, page))
        assert not missing, f"{locale}/{page}.json lacks {sorted(missing)}"


@pytest.mark.parametrize("page", ["mirror", "shelf"])
def test_every_locale_has_the_same_keys_and_placeholders_translated(page: str) -> None:
    english = catalogue("en", page)
    for locale in LOCALES[1:]:
        other = catalogue(locale, page)
        assert set(other) == set(english), f"{locale}/{page}.json keys differ from en"
        for key, text in english.items():
            assert set(re.findall(r"\{\w+\}", other[key])) == set(re.findall(r"\{\w+\}", text)), (locale, key)
            if key not in SAME_IN_EVERY_LANGUAGE and len(text) > 8:
                assert other[key] != text, f"{locale}/{page}.json {key} is an English copy"


def test_the_language_chooser_offers_the_five_locales_each_named_in_its_own_language() -> None:
    for page in ("mirror", "shelf"):
        html = (STATIC / f"{page}.html").read_text()
        options = re.findall(r'<option value="(\w+)" lang="(\w+)">([^<]+)</option>', html)
        assert options == [
            ("en", "en", "English"), ("de", "de", "Deutsch"), ("pl", "pl", "Polski"), ("et", "et", "Eesti"),
            ("ru", "ru", "Русский"),
        ]  # fmt: skip
