"""An accessibility audit of the page a test shows: axe-core (vendored, pinned, hash-checked) run in the browser
against WCAG 2.0, 2.1 and 2.2 at levels A and AA. A serious or critical violation fails the test with the rule, its
help text and the elements it found; lesser ones are left to review (axe's "moderate" includes best practices
that are not WCAG failures).

axe is injected through WebDriver (``execute_script``), which the page's Content-Security-Policy does not govern:
the page itself never loads it, so the shipped CSP stays ``script-src 'self'`` and nothing test-only is served.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from selenium import webdriver

AXE_VERSION = "4.14.1"
AXE_DIR = Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
"""Of ``axe.min.js`` as shipped in the npm tarball (VENDORED.md beside it has the tarball's own hashes)."""
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
"""WCAG 2.2 AA is 2.0 + 2.1 + 2.2 at A and AA; axe tags each rule with the version that introduced it."""
FAILING_IMPACTS = frozenset({"serious", "critical"})
AXE_SCRIPT_TIMEOUT_S = 30
"""How long one audit may run in the page; a screen's page is small and takes well under a second."""

RUN_AXE = """
const [within, tags, done] = arguments;
axe.run(within === null ? document : within, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(result => done({violations: result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''}))}))}))
  .catch(err => done({error: String(err)}));
"""


@functools.cache
def axe_source() -> str:
    source = (AXE_DIR / "axe.min.js").read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    assert digest == AXE_SHA256, f"{AXE_DIR / 'axe.min.js'} is not the vendored axe-core {AXE_VERSION}: {digest}"
    return source.decode("utf-8")


def audit(driver: webdriver.Chrome, within: str | None = None) -> list[dict[str, Any]]:
    """Every WCAG 2.2 A/AA violation axe finds in the page (or in the element ``within`` selects), any impact."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(AXE_SCRIPT_TIMEOUT_S)
    result = driver.execute_async_script(RUN_AXE, within, list(WCAG_TAGS))
    assert "error" not in result, f"axe could not run: {result['error']}"
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        lines += [f"    at {node['target']}: {node['summary'].replace(chr(10), ' ')}" for node in v["nodes"]]
    return "\n".join(lines)


def assert_accessible(driver: webdriver.Chrome, context: str, within: str | None = None) -> None:
    """No serious or critical WCAG 2.2 A/AA violation in what the page shows now.

    ``context`` names the step in the failure message ("kiosk, merge preview"); ``within`` is an optional CSS
    selector to audit one part of the page instead of the whole document.
    """
    failing = [v for v in audit(driver, within) if v["impact"] in FAILING_IMPACTS]
    assert failing == [], f"accessibility ({context}, {driver.current_url}):\n{describe(failing)}"
