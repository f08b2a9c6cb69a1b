"""Charts of the statistics screen, drawn on the server as SVG by pygal and put inline in
the page.

The site's Content-Security-Policy allows no inline script or style, so what pygal puts
inside the SVG for interaction (its script, tooltips, `<style>`, `style` attributes) is
taken out: the chart's stylesheet is served once as a file (`stylesheet()`, scoped to
`svg.pygal-chart`). Each chart is one image for assistive technology (`role="img"` with a
label); its numbers are in the data table that follows it.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import cache

import pygal
from markupsafe import Markup
from pygal.graph.graph import Graph
from pygal.style import Style

# pygal appends a legacy import hook for its map plugins (unused here) to sys.meta_path; it
# turns every failed optional import anywhere in the process into an ImportWarning.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

# Okabe–Ito: told apart with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#222222",
    foreground_strong="#000000",
    foreground_subtle="#555555",
    colors=COLOURS,
    font_family="sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
)
_SVG_NS = "http://www.w3.org/2000/svg"
_DROP = {"style", "script", "title", "desc"}  # desc, title: tooltip text
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

Values = Sequence[int | None]


def _config(kind: type[Graph], labels: Sequence[str]) -> Graph:
    many = len(labels) > 16
    chart = kind(
        style=_STYLE,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        width=800,
        height=340,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        show_minor_x_labels=not many,
        x_labels_major_every=max(1, len(labels) // 8) if many else None,
        x_label_rotation=30 if many else 0,
        allow_interruptions=True,
        include_x_axis=True,
        print_values=False,
        tooltip_border_radius=0,
        pretty_print=False,
    )
    chart.x_labels = list(labels)
    return chart


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _clean(tree: ET.Element, label: str) -> Markup:
    """The SVG without what the CSP would refuse, as one labelled image."""
    for parent in list(tree.iter()):
        for child in list(parent):
            name = _local(child.tag)
            if (
                name in _DROP
                or not name  # comments
                or "tooltip" in child.get("class", "").split()
            ):
                parent.remove(child)
    for element in tree.iter():
        element.attrib.pop("style", None)
    tree.attrib.pop("id", None)
    tree.set("role", "img")
    tree.set("aria-label", label)
    tree.set("focusable", "false")
    return Markup(ET.tostring(tree, encoding="unicode"))  # noqa: S704 - pygal's SVG, cleaned


def _render(chart: Graph, series: Sequence[tuple[str, Values]], label: str) -> Markup:
    for name, values in series:
        chart.add(name, list(values))
    return _clean(chart.render_tree(), label)


def line(labels: Sequence[str], series: Sequence[tuple[str, Values]], label: str) -> Markup:
    return _render(_config(pygal.Line, labels), series, label)


def bar(labels: Sequence[str], series: Sequence[tuple[str, Values]], label: str) -> Markup:
    return _render(_config(pygal.Bar, labels), series, label)


@cache
def stylesheet() -> str:
    """pygal's stylesheet for these charts, scoped to `svg.pygal-chart` (the class pygal gives
    every chart) instead of one chart's random id."""
    chart = _config(pygal.Bar, ["a"])
    for n, _ in enumerate(COLOURS):
        chart.add(str(n), [1])
    tree = chart.render_tree()
    css = "\n".join(el.text or "" for el in tree.iter() if _local(el.tag) == "style")
    # Ours: the chart scales with the page; numbers in tables line up.
    own = (
        "svg.pygal-chart{display:block;width:100%;max-width:60rem;height:auto}"
        ".stats-table td.number{text-align:right;font-variant-numeric:tabular-nums}"
        ".stats-chart{margin:1rem 0}"
    )
    return re.sub(r"#chart-[0-9a-f-]+", "svg.pygal-chart", css) + "\n" + own
