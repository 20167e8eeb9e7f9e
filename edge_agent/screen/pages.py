"""What the screen serves, read from the package: each role's page in the one layout, the scripts and styles, and
the message catalogues per locale.

Every page shares ``static/layout.html`` (the head with the page token, the shared style sheet and script, the
ARIA live region): a page file holds only its own ``<head>`` lines (its title, anything beyond its own
``{page}.css`` and ``{page}.js``) and its body. The language chooser is rendered here from the shipped locales, each
named in its own language (its ``common.json`` ``lang_<tag>``), so a page places ``{{LOCALE_CHOOSER}}`` and no
page lists the languages itself. Likewise ``{{PERSONAL}}`` and ``{{RELATED}}`` stand for the blocks in
``static/parts/``: the offers and consent sections, the related items, shown the same way on every page placing them.
"""

from __future__ import annotations

import functools
import html
import json
import typing
from importlib import resources

from edge_agent.config import ScreenLocale
from edge_agent.screen import const

LAYOUT = "layout.html"
PERSONAL = "parts/personal.html"
"""The identified shopper's offers and consent choices (static/personal.js drives them), one block for every page
that places ``{{PERSONAL}}``."""
RELATED = "parts/related.html"
"""The related items of the line scanned last, as a page section (``{{RELATED}}``; the handheld and the shelf
place the same table inside a section of their own, under their own heading)."""
CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript"}
"""What /static/ serves, by ending; anything else in the package (the pages, the catalogues) is not a file to get."""


def asset(name: str) -> str:
    return resources.files("edge_agent.screen").joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def static_names() -> frozenset[str]:
    """The scripts and styles shipped in the package: nothing else is served from /static/."""
    root = resources.files("edge_agent.screen").joinpath("static")
    return frozenset(f.name for f in root.iterdir() if f.is_file() and f.name[f.name.rfind(".") :] in CONTENT_TYPES)


@functools.cache
def locales() -> frozenset[str]:
    """The locales with a catalogue directory under static/messages/."""
    root = resources.files("edge_agent.screen").joinpath("static", "messages")
    return frozenset(d.name for d in root.iterdir() if d.is_dir())


@functools.cache
def catalogue(locale: str, page: str) -> dict[str, str]:
    """Every string a page shows in one locale: the shared ``common.json`` and the page's own."""
    merged: dict[str, str] = {}
    for part in ("common", page):
        merged.update(json.loads(asset(f"messages/{locale}/{part}.json")))
    return merged


def page_for(role: str) -> str:
    """The page a role shows; a role without its own page shows the shopper's basket (the kiosk page)."""
    return const.ROLE_PAGES.get(role, "kiosk")


@functools.cache
def locale_chooser() -> str:
    """The shipped locales in the config's order, each option in its own language (WCAG 3.1.2: ``lang`` on it)."""
    options = "".join(
        f'<option value="{tag}" lang="{tag}">{html.escape(catalogue(tag, "common")["lang_" + tag])}</option>'
        for tag in typing.get_args(ScreenLocale)
        if tag in locales()
    )
    return f'<label for="locale" data-msg="language">Language</label>\n<select id="locale">{options}</select>'


def render_page(page: str, token: str, locale: str, attract_after_s: float) -> str:
    """The page as the browser gets it: the layout around the page file, the per-start values filled in."""
    own = asset(f"{page}.html")
    head, _, body = own.partition("</head>")
    text = (
        asset(LAYOUT)
        .replace("{{HEAD}}", head.removeprefix("<head>").strip())
        .replace("{{BODY}}", body.strip())
        .replace("{{LOCALE_CHOOSER}}", locale_chooser())
        .replace("{{PERSONAL}}", asset(PERSONAL).strip())
        .replace("{{RELATED}}", asset(RELATED).strip())
    )
    values = {"TOKEN": token, "LOCALE": locale, "ATTRACT_AFTER_S": str(attract_after_s), "PAGE": page}
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return text
