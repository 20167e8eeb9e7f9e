"""Every screen in every shipped language: each key a page uses exists in each locale's catalogues, each locale has
the same keys with the same ``{placeholders}``, the config accepts exactly the shipped locales, and the server
serves a locale's words and refuses a locale it does not ship.

The walk reads the pages as the browser gets them: ``data-msg`` / ``data-msg-label`` attributes in
``static/*.html`` and ``msg("key"`` literals in ``static/*.js``; a page's keys are looked up in ``common.json``
merged with its own ``{page}.json``, as ``/messages.json`` serves them. A script shared by every page
(``screen.js``) is checked against every page's catalogue.
"""

from __future__ import annotations

import asyncio
import json
import re
import typing
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from edge_agent.config import ScreenLocale, ScreenSection
from edge_agent.contract.codec import Rejected
from edge_agent.screen.feed import ScreenFeed
from edge_agent.screen.server import ScreenServer, catalogue, locales
from tests.support.browser import free_port

STATIC = Path(__file__).resolve().parents[2] / "edge_agent" / "screen" / "static"
MESSAGES = STATIC / "messages"
SHARED_SCRIPT = "screen.js"
LITERAL_KEY = re.compile(r"""\bmsg\(\s*(["'])([A-Za-z0-9_.-]+)\1\s*[,)]""")
"""``msg("key")`` or ``msg('key', {...})``: a whole literal key, not the start of a computed one."""
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PAGES = sorted(p.stem for p in STATIC.glob("*.html"))
SHIPPED = sorted(d.name for d in MESSAGES.iterdir() if d.is_dir())
CATALOGUE_FILES = sorted({f.name for d in MESSAGES.iterdir() if d.is_dir() for f in d.glob("*.json")})


class _KeysInHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.scripts: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("data-msg", "data-msg-label") and value:
                self.keys.add(value)
            if tag == "script" and name == "src" and value and value.startswith("/static/"):
                self.scripts.add(value.removeprefix("/static/"))


def keys_of_page(page: str) -> dict[str, set[str]]:
    """Where each key the page can ask for comes from: the html file and each script it loads."""
    parser = _KeysInHtml()
    parser.feed((STATIC / f"{page}.html").read_text(encoding="utf-8"))
    found = {f"{page}.html": parser.keys}
    for script in sorted(parser.scripts | {SHARED_SCRIPT}):
        text = (STATIC / script).read_text(encoding="utf-8")
        found[script] = {m.group(2) for m in LITERAL_KEY.finditer(text)}
    return found


def load(locale: str, name: str) -> dict[str, str]:
    raw = json.loads((MESSAGES / locale / name).read_text(encoding="utf-8"))
    assert isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()), f"{locale}/{name}"
    return raw


def test_the_walk_finds_the_keys_the_kiosk_page_uses() -> None:
    """The walk itself: it sees attributes, literals in the page's script and the shared script's own keys."""
    kiosk = keys_of_page("kiosk")
    assert {"basket_title", "confirm", "offline"} <= kiosk["kiosk.html"]
    assert {"unknown_item", "announce_added"} <= kiosk["kiosk.js"]
    assert {"price_at_checkout", "refused", "action_failed"} <= kiosk[SHARED_SCRIPT]
    assert not any(key.endswith("_") for keys in kiosk.values() for key in keys), "a computed key is not a key"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("locale", SHIPPED)
def test_every_key_a_page_uses_is_in_every_locale(page: str, locale: str) -> None:
    assert (MESSAGES / locale / "common.json").is_file(), f"{locale} ships no common.json"
    assert (MESSAGES / locale / f"{page}.json").is_file(), f"{locale} ships no catalogue for the {page} page"
    words = catalogue(locale, page)
    missing = {source: sorted(keys - words.keys()) for source, keys in keys_of_page(page).items()}
    assert {source: keys for source, keys in missing.items() if keys} == {}, f"{locale}/{page}: keys without words"
    assert all(value.strip() for value in words.values()), f"{locale}/{page}: an empty message"


@pytest.mark.parametrize("name", CATALOGUE_FILES)
def test_every_locale_has_the_same_keys_and_placeholders_in_each_file(name: str) -> None:
    english = load("en", name)
    for locale in SHIPPED:
        assert (MESSAGES / locale / name).is_file(), f"{locale} lacks {name}"
        other = load(locale, name)
        assert sorted(other) == sorted(english), f"{locale}/{name} keys differ from en/{name}"
        wrong = {
            key: (sorted(PLACEHOLDER.findall(english[key])), sorted(PLACEHOLDER.findall(text)))
            for key, text in other.items()
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(english[key]))
        }
        assert wrong == {}, f"{locale}/{name}: placeholders (en, {locale}) differ"


@pytest.mark.parametrize("locale", [loc for loc in SHIPPED if loc != "en"])
def test_a_translation_is_not_an_english_copy(locale: str) -> None:
    """Words the same in both (a language's own name, "Total" in some) are fine; most are not."""
    for name in CATALOGUE_FILES:
        english, other = load("en", name), load(locale, name)
        same = [key for key in english if other[key] == english[key] and not key.startswith("lang_")]
        assert len(same) <= len(english) // 5, f"{locale}/{name} copies English: {same}"


def test_the_config_accepts_exactly_the_shipped_locales() -> None:
    assert sorted(typing.get_args(ScreenLocale)) == SHIPPED == sorted(locales())
    assert sorted(SHIPPED) == ["de", "en", "et", "pl", "ru"]
    for locale in SHIPPED:
        assert ScreenSection.model_validate({"locale": locale}).locale == locale
    with pytest.raises(ValidationError) as refused:
        ScreenSection.model_validate({"locale": "fr"})
    assert "'de'" in str(refused.value) and "'ru'" in str(refused.value), "the error names the allowed locales"


def test_the_server_serves_german_words_and_refuses_a_locale_it_does_not_ship() -> None:
    port = free_port()
    rejected: list[Rejected] = []

    def refuse_everything(_topic: str, _payload: bytes) -> None:
        raise Rejected("unknown_topic", "no route table here")

    server = ScreenServer(
        ScreenSection(listen=f"127.0.0.1:{port}", locale="pl"),
        ScreenFeed("rt/v1/acme/st/s042/dv/kiosk-01/"),
        "rt/v1/acme/st/s042/dv/kiosk-01/ui",
        refuse_everything,
        lambda _topic, rej: rejected.append(rej),
        lambda: True,
        bytes(32),
        "urn:acme:s042:kiosk-01",
    )

    async def ask() -> dict[str, tuple[int, dict[str, str]]]:
        serving = asyncio.create_task(server.run())
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                while server.port is None:
                    await asyncio.sleep(0.01)
                answers = {}
                for query in ("?locale=de", "", "?locale=fr"):
                    async with http.get("/messages.json" + query) as response:
                        answers[query] = (response.status, await response.json())
                async with http.get("/") as response:
                    answers["page"] = (response.status, {"html": await response.text()})
                return answers
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)

    answers = asyncio.run(ask())
    status, german = answers["?locale=de"]
    assert status == 200 and german["basket_title"] == "Ihr Warenkorb" and german["confirm"] == "Bestätigen"
    assert german["reason_preview_changed"].startswith("Ihr Warenkorb hat sich")
    status, default = answers[""]
    assert status == 200 and default["basket_title"] == "Twój koszyk", "no locale asked: the device's own"
    status, refusal = answers["?locale=fr"]
    assert status == 404 and refusal["reason"] == "unknown_locale" and "de, en, et, pl, ru" in refusal["detail"]
    status, page = answers["page"]
    assert status == 200 and '<html lang="pl">' in page["html"]
