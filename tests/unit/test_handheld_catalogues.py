"""Every word the handheld page shows exists in every locale: the keys its html names (``data-msg``,
``data-msg-label``) and its script looks up (``msg("...")``, and every ``words(prefix, code)`` family for the
states and reasons of the contract), in en, de, pl, et and ru; and no locale is an English copy."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from edge_agent.domain.workflows.const import DEFAULT_SHORT_REASONS
from edge_agent.domain.workflows.picking import PickLineState, PickState, Substitution
from edge_agent.domain.workflows.tote import LineState, ToteState

LOCALES = ("en", "de", "pl", "et", "ru")
COMMON_KEYS = frozenset({"offline_staff"})
"""The one shared word the page takes from common.json (the staff's offline banner)."""
STATIC = resources.files("edge_agent.screen").joinpath("static")


def page_catalogue(locale: str) -> dict[str, str]:
    return dict(json.loads(STATIC.joinpath("messages", locale, "handheld.json").read_text(encoding="utf-8")))


def used_keys() -> set[str]:
    html = STATIC.joinpath("handheld.html").read_text(encoding="utf-8")
    script = STATIC.joinpath("handheld.js").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-msg(?:-label)?="([a-z0-9_]+)"', html))
    keys |= {k for k in re.findall(r'\bmsg\("([a-z0-9_]+)"', script) if not k.endswith("_")}  # prefixes below
    families = {
        "tote_state_": [s.value for s in ToteState],
        "line_state_": [s.value for s in LineState],
        "pick_state_": [s.value for s in PickState],
        "pick_line_": [s.value for s in PickLineState],
        "substitution_": [s.value for s in Substitution],
        "short_reason_": list(DEFAULT_SHORT_REASONS),
        "claim_": ["pending", "lost"],
        "verified_by_": ["order_code", "id_document"],
    }
    for prefix, codes in families.items():
        assert f'"{prefix}"' in script or f'"{prefix}" +' in script, f"the page no longer uses {prefix}*"
        keys |= {prefix + code for code in codes}
    return keys - COMMON_KEYS


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_the_handheld_page_uses_is_in_the_locale(locale: str) -> None:
    missing = sorted(used_keys() - page_catalogue(locale).keys())
    assert missing == [], f"{locale}/handheld.json lacks {missing}"


@pytest.mark.parametrize("locale", LOCALES[1:])
def test_a_locale_has_the_same_keys_as_english_and_is_translated(locale: str) -> None:
    english, other = page_catalogue("en"), page_catalogue(locale)
    assert other.keys() == english.keys()
    same = [
        k for k in english if english[k] == other[k] and not re.fullmatch(r"[^a-zA-Z]*\{\w+\}[^a-zA-Z]*", english[k])
    ]
    assert len(same) <= 2, f"{locale} copies English for {same}"
    for key, text in english.items():
        assert set(re.findall(r"\{\w+\}", other[key])) == set(re.findall(r"\{\w+\}", text)), (locale, key)


def test_the_shared_offline_banner_comes_from_the_common_catalogue() -> None:
    common = json.loads(STATIC.joinpath("messages", "en", "common.json").read_text(encoding="utf-8"))
    assert common.keys() >= COMMON_KEYS
