"""axe-core (from the npm registry, node_modules/) run in a page, and the reflow check
(WCAG 1.4.10): the helpers a browser test asserts accessibility with."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at A and AA, and axe's best practices: every impact counts.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")

_RUN = """async (tags) => {
  const found = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
  });
  return found.violations.map(v => `${v.id} (${v.impact}): ` +
    v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', '));
}"""

# Elements that stick out past the right edge of the viewport, outside data tables (which
# 1.4.10 lets scroll); only the innermost of them, which are the ones to fix.
_OVERFLOW = """() => {
  const root = document.documentElement;
  if (root.scrollWidth <= root.clientWidth) return [];
  const edge = root.clientWidth + 1;
  const sticks = el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > edge;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!sticks(el) || el.closest('table')) continue;
    if ([...el.children].some(sticks)) continue;
    const parent = el.parentElement;
    out.push((parent ? name(parent) + ' > ' : '') + name(el));
  }
  return out.length ? out.slice(0, 5) : [];
}"""


@cache
def _axe_source() -> str:
    """axe.min.js, read once: it is injected into every page a sweep checks."""
    return AXE.read_text("utf-8")


def violations(page: Page) -> list[str]:
    """axe's violations on the page as it is now, at any impact: `rule (impact): targets`."""
    # evaluate() runs through DevTools, so the page's strict CSP stays on while axe loads.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(_axe_source())
    found: list[str] = page.evaluate(_RUN, list(TAGS))
    return found


def overflow(page: Page, width: int = 320) -> list[str]:
    """What makes the page scroll sideways at `width` CSS pixels (data tables excepted):
    WCAG 1.4.10 Reflow. The viewport is put back afterwards."""
    before = page.viewport_size
    assert before is not None
    page.set_viewport_size({"width": width, "height": before["height"]})
    try:
        found: list[str] = page.evaluate(_OVERFLOW)
    finally:
        page.set_viewport_size(before)
    return found
