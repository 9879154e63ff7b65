"""One colour per variant across every figure of a tab, read from each lesson's quick run (the runs
the protocol tests make, computed once per session): a legend name keeps its colour in every
figure of its tab, two legend entries of one figure never look alike, and a variant the lesson
lists in its ``COLOURS`` (``plots.variant_colours``) has that colour wherever its name is shown
("relu, lr 0.5" and "relu + kaiming" alike)."""

from __future__ import annotations

import importlib
import re
from collections import defaultdict

import plotly.graph_objects as go
import pytest

from cnnbp.lessons import LESSONS
from cnnbp.plots.common import PALETTE, variant_colours
from tests.lessons.quick import quick_frames


def legend_entries(fig: go.Figure) -> list[tuple[str, tuple]]:
    """(name, (colour, dash, pattern, symbol)) of each trace the legend shows with one colour."""
    entries = []
    for t in fig.data:
        if not getattr(t, "name", None) or getattr(t, "showlegend", None) is False:
            continue
        line, marker = getattr(t, "line", None), getattr(t, "marker", None)
        colour = (line.color if line is not None and line.color else None) or (marker.color if marker else None)
        if not isinstance(colour, str):
            continue  # a heat map or an image (no legend colour), or one colour per bar
        dash = line.dash if line is not None and getattr(line, "dash", None) else "solid"
        pattern = getattr(getattr(marker, "pattern", None), "shape", None) or ""
        symbol = getattr(marker, "symbol", None) if "markers" in (getattr(t, "mode", "") or "") else ""
        entries.append((t.name, (colour.lower(), dash, pattern, str(symbol or ""))))
    return entries


def tab_figures(name: str) -> list[tuple[str, go.Figure]]:
    """Every figure of the quick run, mid-run ones too (a tab shows them while it streams)."""
    return [(fig_name, fig) for frame in quick_frames(name) for fig_name, fig in frame.figures.items()]


def declared(name: str) -> dict[str, str]:
    """The lesson's variant colours, where its figures declare them."""
    return getattr(importlib.import_module(f"cnnbp.lessons.{name}.figures"), "COLOURS", {})


def variant_in(legend: str, variants: dict[str, str]) -> str | None:
    """The declared variant a legend name shows (the first one named in it, as a whole word)."""
    found = [(m.start(), -len(v), v) for v in variants
             for m in re.finditer(rf"(?<![\w.]){re.escape(v)}(?![\w.])", legend)]
    return min(found)[2] if found else None


def colour_problems(figures: list[tuple[str, go.Figure]], variants: dict[str, str]) -> list[str]:
    problems, colours = [], defaultdict(set)
    for fig_name, fig in figures:
        styles = {}
        for legend, style in legend_entries(fig):
            colours[legend].add(style[0])
            styles.setdefault(legend, style)
            v = variant_in(legend, variants)
            if v is not None and style[0] != variants[v].lower():
                problems.append(f"{fig_name}: {legend!r} is {style[0]}, its variant {v!r} is {variants[v]}")
        alike = defaultdict(list)
        for legend, style in styles.items():
            alike[style].append(legend)
        problems += [f"{fig_name}: {names} look alike {style}" for style, names in alike.items() if len(names) > 1]
    problems += [f"{legend!r} drawn in {sorted(c)}" for legend, c in colours.items() if len(c) > 1]
    return sorted(set(problems))


@pytest.mark.parametrize("name", list(LESSONS))
def test_one_colour_per_variant_across_the_tab(name):
    assert colour_problems(tab_figures(name), declared(name)) == []


def test_the_check_catches_a_variant_coloured_twice_or_two_alike():
    """What the tab check reads: "freeze" blue in one figure and orange in the next (the bug it was
    written for), two names of one figure in one style, a declared variant in another colour."""
    def figure(*traces):
        return go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n, line=dict(color=c)) for n, c in traces])

    blue, orange = PALETTE[0], PALETTE[1]
    assert colour_problems([("a", figure(("freeze", blue), ("finetune", orange))),
                            ("b", figure(("freeze", orange), ("finetune", blue)))], {}) == [
        "'finetune' drawn in ['#0072b2', '#d55e00']", "'freeze' drawn in ['#0072b2', '#d55e00']"]
    assert colour_problems([("a", figure(("freeze", blue), ("finetune", blue)))], {}) == [
        "a: ['freeze', 'finetune'] look alike ('#0072b2', 'solid', '', '')"]
    colours = variant_colours(["relu", "leaky_relu"])
    assert colour_problems([("a", figure(("relu, lr 0.5", colours["relu"]), ("leaky_relu + kaiming", PALETTE[2])))],
                           colours) == [f"a: 'leaky_relu + kaiming' is {PALETTE[2].lower()}, its variant 'leaky_relu' "
                                        f"is {colours['leaky_relu']}"]


def test_a_tab_names_each_variant_colour_once():
    """A lesson's COLOURS give distinct colours (and none is the reference lines' black)."""
    for name in LESSONS:
        colours = list(declared(name).values())
        assert len(set(colours)) == len(colours) and "#000000" not in colours, name
