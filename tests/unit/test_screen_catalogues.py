"""Every screen in every shipped language: each key a page uses exists in each locale's catalogues, each locale has
the same keys with the same ``{placeholders}`` and is a translation, every refusal has plain words, the language
chooser names each locale in its own language, the config accepts exactly the shipped locales, and the server serves
a locale's words and refuses a locale it does not ship.

The walk reads the pages as the browser gets them (``render_page``: the layout around the page file):
``data-msg`` / ``data-msg-label`` attributes, and in each script the page loads ``msg("key"`` literals, both keys
of ``msg(flag ? "a" : "b")`` and string literals with the page's own prefix; a key a script computes
(``"reason_" + code``, ``words("tote_state_", state)``) is named in :data:`COMPUTED` from the codes the contract
and the domain define. A page's keys are looked up in ``common.json`` merged with its own ``{page}.json``, as
``/messages.json`` serves them. ``screen.js``, shared by every page, is checked against every page's catalogue.
"""

from __future__ import annotations

import asyncio
import json
import re
import typing
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

import edge_agent
from edge_agent.config import ScreenLocale, ScreenSection
from edge_agent.contract.codec import Rejected
from edge_agent.domain.workflows.assist import AssistState
from edge_agent.domain.workflows.const import DEFAULT_SHORT_REASONS
from edge_agent.domain.workflows.picking import PickLineState, PickState, Substitution
from edge_agent.domain.workflows.tote import LineState, ToteState
from edge_agent.screen.feed import ScreenFeed
from edge_agent.screen.pages import catalogue, locales, render_page
from edge_agent.screen.server import ScreenServer
from tests.support.browser import free_port

PACKAGE = Path(edge_agent.__file__).parent
STATIC = PACKAGE / "screen" / "static"
MESSAGES = STATIC / "messages"
SHARED_SCRIPT = "screen.js"
LITERAL_KEY = re.compile(r"""\bmsg\(\s*(["'])([A-Za-z0-9_.-]+)\1\s*[,)]""")
"""``msg("key")`` or ``msg('key', {...})``: a whole literal key, not the start of a computed one."""
CHOSEN_KEYS = re.compile(r"""\bmsg\(\s*[\w.]+\s*\?\s*"(\w+)"\s*:\s*"(\w+)"\s*\)""")
"""``msg(sealed ? "thank_you" : "pay_at_till_title")``: both are keys."""
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PAGES = sorted(p.stem for p in STATIC.glob("*.html") if p.name != "layout.html")
SHIPPED = sorted(d.name for d in MESSAGES.iterdir() if d.is_dir())
CATALOGUE_FILES = sorted({f.name for d in MESSAGES.iterdir() if d.is_dir() for f in d.glob("*.json")})
OWN_NAMES = [("en", "English"), ("de", "Deutsch"), ("pl", "Polski"), ("et", "Eesti"), ("ru", "Русский")]


def refusal_reasons() -> set[str]:
    """The stable reason codes of the readers' and identifiers' rejections and the basket's and session's rules."""
    pattern = re.compile(r'\b(?:InvalidCode|_reject|RejectedTag|Refused|IdentityRejected|_refuse)\(\s*"([a-z_]+)"')
    sources = [*(PACKAGE / "identifiers").glob("*.py"), *(PACKAGE / "readers" / "nfc").glob("*.py")]
    sources += [PACKAGE / "domain" / "basket.py", PACKAGE / "domain" / "session.py"]
    sources += [PACKAGE / "identity" / "tokens.py", PACKAGE / "roles" / "sessions.py"]
    sources += [PACKAGE / "store" / "device.py", PACKAGE / "store" / "budget.py"]  # a full disk, the storage budget
    return {m for path in sources for m in pattern.findall(path.read_text(encoding="utf-8"))}


def family(prefix: str, codes: typing.Iterable[str]) -> set[str]:
    return {prefix + code for code in codes}


COMPUTED: dict[str, dict[str, Callable[[], set[str]]]] = {
    "kiosk": {"reason_": lambda: family("reason_", refusal_reasons() | {"unknown", "unreadable"})},
    "handheld": {
        "tote_state_": lambda: family("tote_state_", (s.value for s in ToteState)),
        "line_state_": lambda: family("line_state_", (s.value for s in LineState)),
        "pick_state_": lambda: family("pick_state_", (s.value for s in PickState)),
        "pick_line_": lambda: family("pick_line_", (s.value for s in PickLineState)),
        "substitution_": lambda: family("substitution_", (s.value for s in Substitution)),
        "short_reason_": lambda: family("short_reason_", DEFAULT_SHORT_REASONS),
        "claim_": lambda: family("claim_", ("pending", "lost")),
        "verified_by_": lambda: family("verified_by_", ("order_code", "id_document")),
    },
    "mirror": {
        "mirror_state_": lambda: family("mirror_state_", (s.value for s in AssistState)),
    },
}
"""Per page, each key prefix its script completes at run time, with the codes it completes it with."""


class _KeysInHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("data-msg", "data-msg-label") and value:
                self.keys.add(value)
            if tag == "script" and name == "src" and value and value.startswith("/static/"):
                self.scripts.append(value.removeprefix("/static/"))


def served(page: str) -> str:
    return render_page(page, "token", "en", 60)


def keys_of_page(page: str) -> dict[str, set[str]]:
    """Where each key the page can ask for comes from: the served html, each script it loads, computed keys."""
    parser = _KeysInHtml()
    parser.feed(served(page))
    found = {f"{page}.html": parser.keys}
    own_prefix = re.compile(rf'"({page}_[a-z0-9_]*[a-z0-9])"')
    for script in parser.scripts:
        text = (STATIC / script).read_text(encoding="utf-8")
        keys = {m.group(2) for m in LITERAL_KEY.finditer(text)}
        keys |= {key for pair in CHOSEN_KEYS.findall(text) for key in pair}
        found[script] = keys | set(own_prefix.findall(text))
    for prefix, codes in COMPUTED.get(page, {}).items():
        script = (STATIC / f"{page}.js").read_text(encoding="utf-8")
        assert f'"{prefix}"' in script, f"{page}.js no longer builds {prefix}* keys: drop them from COMPUTED"
        found[f"{page}.js {prefix}*"] = codes()
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
    assert {"thank_you", "pay_at_till_title"} <= kiosk["kiosk.js"], "both keys of a chosen message"
    assert {"claim_qr_alt", "claim_done"} <= kiosk["claim.js"], "the kiosk's second script"
    assert "reason_bad_check_digit" in kiosk["kiosk.js reason_*"]
    assert "tote_state_parked" in keys_of_page("handheld")["handheld.js tote_state_*"]


def test_the_scan_reject_reasons_are_found_at_all() -> None:
    assert {"bad_check_digit", "not_an_ndef_tag", "not_in_basket", "expired_code"} <= refusal_reasons()


def test_the_claim_corner_uses_its_own_keys() -> None:
    page = served("kiosk")
    section = page[page.index('<section id="claim"') : page.index("</section>", page.index('<section id="claim"'))]
    parser = _KeysInHtml()
    parser.feed(section)
    assert parser.keys | keys_of_page("kiosk")["claim.js"] == {
        "claim_title", "claim_explain", "claim_qr_alt", "claim_expires", "claim_done",
    }  # fmt: skip


@pytest.mark.parametrize("page", PAGES)
def test_a_served_page_has_every_placeholder_filled_and_each_shared_section_once(page: str) -> None:
    html = served(page)
    assert "{{" not in html and "}}" not in html
    for section in ("related", "offers", "consent"):
        assert html.count(f'<section id="{section}"') <= 1, f"{section} twice on the {page} page"
    assert re.search(r"<(h[2-4]) id=\"related-title\"[^>]*>[^<]*</\1>", html), "the heading closes at its own level"


@pytest.mark.parametrize("page", PAGES)
def test_the_language_chooser_offers_every_locale_named_in_its_own_language(page: str) -> None:
    html = served(page)
    options = re.findall(r'<option value="(\w+)" lang="(\w+)">([^<]+)</option>', html)
    assert options == [(tag, tag, name) for tag, name in OWN_NAMES]
    assert '<label for="locale"' in html and html.count('<select id="locale">') == 1


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
    """Every message with words of its own differs from the English; only a language's own name and a message
    that is nothing but placeholders ("{name}: {price}") may be the same."""
    for name in CATALOGUE_FILES:
        english, other = load("en", name), load(locale, name)
        same = [
            key
            for key, text in english.items()
            if other[key] == text and not key.startswith("lang_") and re.search(r"[^\W\d_]", PLACEHOLDER.sub("", text))
        ]
        assert same == [], f"{locale}/{name} copies English"


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_refusal_reason_has_words_on_the_kiosk(locale: str) -> None:
    words = catalogue(locale, "kiosk")
    missing = keys_of_page("kiosk")["kiosk.js reason_*"] - words.keys()
    assert not missing, f"{locale}: no words for {sorted(missing)}"


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
