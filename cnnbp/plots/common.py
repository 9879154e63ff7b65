"""Pure functions: measured numbers -> plotly figures (titles, axis labels, units).

Nothing here computes a statistic; every value drawn is one the caller measured, so a test
can read the figure's data back and compare it with the numbers.
"""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

# Okabe & Ito's colour-blind-safe palette (black last: reference lines are black), then darker
# tones of the same hues for variants beyond eight.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#004C77", "#8F3F00", "#006B4E", "#9C6B00"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
# Read from the back of a lecture hall on a 1024 x 768 projector: ticks and legends >= 16 px.
FONT = dict(size=16)
TITLE_FONT = dict(size=19)
SMALL_FONT = dict(size=14)  # the panel titles and ticks of a grid of many small panels
TITLE_CHARS = 54  # a 19 px title line that fits the figure's width beside the settings at 1024 px
LEGEND_ROW_PX = 28
# The bottom margin a legend row takes: plotly draws one 29.2 px tall at 16 px, and a margin short of what
# the legend and the x axis need by over 1 px makes plotly draw the whole figure a second time with a grown
# margin (its first draw 1.4-2.3x the CPU: bench/first_draws.py). The figure's height grows by LEGEND_ROW_PX.
LEGEND_MARGIN_ROW_PX = 30
# An x title's or tick label's further line in the bottom margin: plotly draws one 20.8 px tall at 16 px, and
# 20 came 2 px short for preprocessing's covariance once no empty legend row padded it (a second draw)
X_TITLE_LINE_PX = 22
# plotly_white, with every axis's tick labels drawn without plotly's overflow check: it measures every
# label of an axis once per label (a forced layout of the page each time), a sixth of the page's
# main-thread time while a run streamed (issue 17); our margins hold the labels anyway.
# And without automargin on the y axes (plotly_white's): apply_layout sets the left margin, and a y axis
# whose labels widen as a curve comes in (0.5 -> 0.25) grows it, so plotly measures the labels and draws the
# figure again, on many updates of a streaming run (issue 17). The x axes keep it: plotly turns crowded x
# labels on their side, and without automargin their title then lies over them (the overlap check failed in
# preprocessing and dropout). A y axis of text labels turns it back on (grow_margins_for_labels).
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.xaxis.ticklabeloverflow = TEMPLATE.layout.yaxis.ticklabeloverflow = "allow"
TEMPLATE.layout.yaxis.automargin = False
# Every figure gets it when it is made, as plotly's default: plotly trusts its default template and
# sets it unvalidated (3 ms), while update_layout(template=...) validates and copies every property
# of it (0.1-0.3 s a figure, half of a streaming lesson's figure time).
pio.templates["cnnbp"] = TEMPLATE
pio.templates.default = "cnnbp"


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# Variants: black stays the reference lines' colour; yellow, faint as a line on white, comes last.
VARIANT_PALETTE = [c for c in PALETTE if c not in ("#000000", "#F0E442")] + ["#F0E442"]


def variant_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per variant for every figure of a tab, fixed in one place: a lesson lists every
    variant it can draw (its registry's names, not the few a run chose) once, in a fixed order, and
    each of its figures looks the colour up by name, so "relu" or "freeze" is the same colour in
    every figure of the tab whatever else was chosen.

    >>> colours = variant_colours(["sigmoid", "relu"])
    >>> colours["relu"] == color_for(1)
    True
    """
    names = list(dict.fromkeys(names))
    if len(names) > len(VARIANT_PALETTE):
        raise ValueError(f"{len(names)} variants, {len(VARIANT_PALETTE)} colours: more than a reader tells apart")
    return dict(zip(names, VARIANT_PALETTE))


def ordinal_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per variant of an ordered kind (dropout's p: more of it, darker), from viridis
    (colour-blind-safe, and readable by lightness alone), its faint yellow end left out.

    >>> list(ordinal_colours(["p = 0", "p = 0.5"]).values())
    ['#440154', '#7cd14f']
    """
    names = list(dict.fromkeys(names))
    spots = [0.8 * i / max(1, len(names) - 1) for i in range(len(names))]
    return {n: _hex(c) for n, c in zip(names, sample_colorscale("Viridis", spots))}


def _hex(rgb: str) -> str:
    """"rgb(68, 1, 84)" -> "#440154"."""
    return "#" + "".join(f"{round(float(v)):02x}" for v in rgb[rgb.index("(") + 1:-1].split(","))


def keyed_colours(keys: Sequence[str], colours: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colour of each key: from the tab's ``colours`` (:func:`variant_colours`) where given,
    else by first appearance (a chart whose variants are the run's own choices, such as dropout's p)."""
    keys = list(dict.fromkeys(keys))
    if colours is None:
        return {k: color_for(i) for i, k in enumerate(keys)}
    missing = [k for k in keys if k not in colours]
    if missing:
        raise KeyError(f"no colour for {missing}: add them to the tab's variant_colours")
    return {k: colours[k] for k in keys}


def wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """Break a long title at spaces (or after a hyphen, in a word too long for a line) into lines
    of at most ``width`` characters (plotly does not wrap, it clips), keeping any line breaks
    already in it."""
    lines: list[str] = []
    for part in title.split("<br>"):
        line = ""
        for word in part.split(" "):
            pieces = re.findall(r"[^-]+-?|-", word) if len(word) > width and "-" in word else [word]
            for k, piece in enumerate(pieces):
                joined = (line + piece) if k else (f"{line} {piece}" if line else piece)
                if line and len(joined) > width:
                    lines.append(line)
                    line = piece
                else:
                    line = joined
        lines.append(line)
    return "<br>".join(lines)


def unwrap(text: str) -> str:
    """A wrapped title as written (for a test that reads it back).

    >>> unwrap(wrap_title("zero-centred data", 6))
    'zero-centred data'
    """
    return text.replace("-<br>", "-").replace("<br>", " ")


# Trace types plotly leaves out of the legend unless told (showlegend=True): a heat map's name is its hover label
NOT_IN_LEGEND = {"heatmap", "image", "contour", "histogram2d", "histogram2dcontour"}


def _in_legend(trace) -> bool:
    shown = getattr(trace, "showlegend", None)
    return shown is True or (shown is None and trace.type not in NOT_IN_LEGEND)


def legend_rows(fig: go.Figure, width_px: int | None = None) -> int:
    """How many rows the horizontal legend below the plot takes at ``width_px`` (the narrowest plot).
    As plotly lays it out: one row if every item fits in it, else every item as wide as the widest."""
    names = [t.name for t in fig.data if getattr(t, "name", None) and _in_legend(t)]
    if not names or fig.layout.showlegend is False:
        return 0
    width_px = width_px or NARROWEST_PLOT_PX
    items = [45 + 9 * len(str(name)) for name in dict.fromkeys(names)]
    if sum(items) <= width_px:
        return 1
    return -(-len(items) // max(1, width_px // max(items)))


MARGIN_LEFT_PX = 70  # a y axis's tick labels and its one-line title
# A tick label's character, in ems, as plotly measured them here (init's and batchnorm's row labels: 0.45);
# wider than that leaves white space, narrower a second draw
LABEL_CHAR_PX = 0.47
# The narrowest plotting width a figure gets: beside the settings column at 1024 x 768 the figure
# is 682 px wide, less the side margins. Spacing and wrapping are sized for it.
NARROWEST_PLOT_PX = 590
CHAR_PX = 0.56  # a character's average width in ems (the sans-serif the page uses)
# What a y axis needs to its left between two columns of panels: tick labels, then its title.
GAP_PX = {"titled": 95, "ticks": 60, "bare": 16}


def _axes(fig: go.Figure, kind: str) -> dict[str, object]:
    """``{"x": xaxis, "x2": xaxis2, ...}`` (kind "x" or "y"), or ``{"scene": ..., "scene2": ...}``,
    for those the figure defines."""
    key = re.compile(rf"^{kind}axis(\d*)$" if kind in ("x", "y") else rf"^{kind}(\d*)$")
    # the layout's own property dict: to_plotly_json() would deep-copy the whole layout (template
    # included) on each of the dozens of calls a figure's styling makes
    found = (key.match(k) for k in fig.layout._props)
    axes = {f"{kind}{m.group(1)}": fig.layout[m.group(0)] for m in found if m}
    if kind in ("x", "y") and kind not in axes:  # a go.Figure's first axes exist before they are set
        axes[kind] = fig.layout[f"{kind}axis"]
    return axes


def _y_axis_needs(axis) -> str:
    if axis.showticklabels is False or axis.visible is False:
        return "bare"
    if axis.matches and axis.showticklabels is None:
        return "bare"  # a shared axis: make_subplots hides its labels beside the first column
    return "titled" if axis.title.text else "ticks"


def space_columns(fig: go.Figure) -> None:
    """Widen the gaps between columns of subplots so that a y axis's tick labels and title never
    run into the panel to their left (make_subplots' fractions are too small at 1024 px)."""
    xaxes, yaxes = _axes(fig, "x"), _axes(fig, "y")
    columns = sorted({tuple(round(d, 4) for d in ax.domain) for ax in xaxes.values() if ax.domain})
    if len(columns) < 2 or any(b[0] < a[1] for a, b in zip(columns, columns[1:])):
        return  # one column, or overlapping domains (insets): nothing to space
    need = [0.0] * len(columns)
    for name, ax in yaxes.items():
        x = xaxes.get(str(ax.anchor or "x"))
        if x is None or not x.domain:
            continue
        col = columns.index(tuple(round(d, 4) for d in x.domain))
        need[col] = max(need[col], GAP_PX[_y_axis_needs(ax)] / NARROWEST_PLOT_PX)
    gaps = [max(b[0] - a[1], need[i + 1]) for i, (a, b) in enumerate(zip(columns, columns[1:]))]
    if all(abs(g - (b[0] - a[1])) < 1e-9 for g, a, b in zip(gaps, columns, columns[1:])):
        return
    widths = [b - a for a, b in columns]
    scale = (1 - sum(gaps)) / sum(widths)
    new, left = {}, 0.0
    for i, (a, b) in enumerate(columns):
        new[(a, b)] = [left, min(1.0, left + (b - a) * scale)]
        left = new[(a, b)][1] + (gaps[i] if i < len(gaps) else 0)
    for ax in xaxes.values():
        if ax.domain:
            ax.domain = new[tuple(round(d, 4) for d in ax.domain)]
    for ann in fig.layout.annotations:  # subplot titles sit at their column's centre
        if ann.xref == "paper" and ann.xanchor == "center" and ann.textangle is None:
            for (a, b), (na, nb) in new.items():
                if abs(ann.x - (a + b) / 2) < 1e-3:
                    ann.x = (na + nb) / 2


def wrap_subplot_titles(fig: go.Figure) -> int:
    """Wrap each subplot title to its column's width at 1024 px; returns the most lines one takes."""
    most = 1
    columns = [ax.domain for ax in _axes(fig, "x").values() if ax.domain]
    columns += [scene.domain.x for scene in _axes(fig, "scene").values() if scene.domain.x]
    for ann in fig.layout.annotations:
        if not (ann.xref == "paper" and ann.yanchor == "bottom" and ann.textangle is None and ann.text):
            continue
        span = next((b - a for a, b in columns if a - 1e-3 <= ann.x <= b + 1e-3), 1.0)
        size = (ann.font.size if ann.font and ann.font.size else FONT["size"])
        chars = max(8, int(span * NARROWEST_PLOT_PX / (CHAR_PX * size)))
        ann.text = wrap_title(ann.text, chars)
        most = max(most, ann.text.count("<br>") + 1)
    return most


def _values_on(fig: go.Figure, name: str) -> list[float]:
    """The finite numbers drawn along axis ``name`` ("x", "y2", ...) or an axis sharing its
    range (``matches``), by every trace on it."""
    letter, axes = name[0], _axes(fig, name[0])
    shared = {n for n, ax in axes.items() if n == name or ax.matches == name}
    return [v for t in fig.data if (getattr(t, f"{letter}axis", None) or letter) in shared
            and getattr(t, letter, None) is not None
            for v in getattr(t, letter)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def _numeric_extent(fig: go.Figure, axis: str) -> float:
    values = _values_on(fig, axis)
    return max(values) - min(values) if values else 0.0


def thin_ticks(fig: go.Figure) -> None:
    """A fixed tick step (``dtick``) that would crowd its labels at 1024 px ("1-1" for 1 and 11)
    grows to 2, 5, 10, ... times itself until they fit."""
    for name, ax in _axes(fig, "x").items():
        if not isinstance(ax.dtick, (int, float)) or ax.type in ("log", "category", "date"):
            continue
        extent = _numeric_extent(fig, name)
        span = (ax.domain[1] - ax.domain[0]) if ax.domain else 1.0
        label_px = (len(f"{extent:g}") + 1) * CHAR_PX * FONT["size"] + 10
        for step in (1, 2, 5, 10, 20, 50, 100):
            if extent / (ax.dtick * step) * label_px <= span * NARROWEST_PLOT_PX:
                break
        ax.dtick *= step


def _positive_extent(fig: go.Figure, name: str) -> tuple[float, float] | None:
    values = [v for v in _values_on(fig, name) if v > 0]
    return (min(values), max(values)) if values else None


def thin_log_ticks(fig: go.Figure, height: int) -> None:
    """Label a log axis 1-2-5 or by decades when its decades are too short for plotly's 1..9
    labels at 16 px (which crowd into "9 8 7 6" and "5 0.001 2"): the closest two labels, 8 and
    9, lie log10(9/8) of a decade apart, 1-2-5's closest log10(2); many short decades are labelled
    every n-th."""
    for letter, length, one_label_px in (("x", NARROWEST_PLOT_PX, 48), ("y", height - 150, 22)):
        for name, ax in _axes(fig, letter).items():
            if ax.type != "log" or ax.dtick is not None or ax.tickvals is not None:
                continue
            extent = _positive_extent(fig, name)
            if ax.range is not None:
                decades = abs(ax.range[1] - ax.range[0])
            elif extent is not None:
                decades = math.log10(extent[1] / extent[0])
            else:
                continue
            span = (ax.domain[1] - ax.domain[0]) if ax.domain else 1.0
            per_decade = span * length / max(decades, 1e-9)
            if per_decade * math.log10(9 / 8) >= one_label_px:
                continue
            if per_decade * math.log10(2) >= one_label_px:
                ax.dtick = "D2"
            else:  # every n-th decade, n as small as the labels allow (a diverged loss spans 20)
                ax.dtick = max(1, math.ceil(1.3 * one_label_px / per_decade))


def wrap_category_ticks(fig: go.Figure) -> int:
    """Long category labels on an x axis are written over several lines, level, instead of being
    turned on their side (plotly's way, which takes most of the figure's height); returns the
    most lines a label takes. The traces keep their categories: only the tick text changes."""
    most = 1
    for name, ax in _axes(fig, "x").items():
        if ax.ticktext is not None or ax.type in ("log", "date", "linear"):
            continue
        labels = list(dict.fromkeys(v for t in fig.data if (getattr(t, "xaxis", None) or "x") == name
                                    and getattr(t, "x", None) is not None for v in t.x if isinstance(v, str)))
        if not labels:
            continue
        span = (ax.domain[1] - ax.domain[0]) if ax.domain else 1.0
        chars = max(6, int(span * NARROWEST_PLOT_PX / len(labels) / (CHAR_PX * FONT["size"])) - 1)
        if max(len(label) for part in labels for label in part.split("<br>")) <= chars:
            continue
        wrapped = [wrap_title(label, chars) for label in labels]
        ax.update(tickmode="array", tickvals=labels, ticktext=wrapped, tickangle=0)
        most = max(most, *(w.count("<br>") + 1 for w in wrapped))
    return most


def _is_text(values) -> bool:
    """A trace's values along an axis are labels (categories, or a multicategory's levels), not numbers."""
    first = next(iter(values), None) if values is not None else None
    return isinstance(first, str) or (isinstance(first, (list, tuple)) and bool(first) and isinstance(first[0], str))


def grow_margins_for_labels(fig: go.Figure) -> int:
    """A y axis of text labels (categories, its own tick text) or with a title of several lines grows its
    margin to hold them, as plotly's automargin does: the labels' width is only estimated here, and a wrapped
    title beside the tick labels is wider than apply_layout's margin (transfer's selection figure). Any
    other y axis keeps the margin apply_layout sets (the template's automargin is off there: measuring and
    redrawing on each update). Returns the left margin to start from (the first axis's estimate)."""
    left = MARGIN_LEFT_PX
    for letter in ("y",):
        for name, ax in _axes(fig, letter).items():
            on_axis = [t for t in fig.data if (getattr(t, f"{letter}axis", None) or letter) == name]
            if ax.automargin is None and (ax.type in ("category", "multicategory") or ax.ticktext is not None
                                          or "<br>" in (ax.title.text or "")
                                          or any(_is_text(getattr(t, letter, None)) for t in on_axis)):
                ax.automargin = True
            if ax.automargin and name == "y":  # the first column's axis (a figure's own too): the left margin
                left = max(left, _left_margin_needed(ax, on_axis))
    return left


def _left_margin_needed(ax, traces) -> int:
    """About the left margin plotly's automargin grows a y axis's margin to: its longest tick label and
    its title's lines. Given at once, the figure is drawn once (plotly draws it again for a margin that
    grows by over 1 px: 1.4-2.3x a first draw's CPU, bench/first_draws.py); an estimate too small only
    leaves that second draw."""
    if ax.showticklabels is False:
        labels = []
    elif ax.ticktext is not None:
        labels = [str(t) for t in ax.ticktext]
    else:
        values = [v for t in traces for v in (getattr(t, "y", None) if getattr(t, "y", None) is not None else ())]
        # a number one digit longer: plotly's top tick can lie beyond the data (80 -> "100")
        labels = [v if isinstance(v, str) else f"{v:.3g}0" for v in values if v is not None]
    widest = max((len(part) for label in labels for part in label.split("<br>")), default=0)
    title_lines = (ax.title.text or "").count("<br>") + 1 if ax.title.text else 0
    return round(16 + widest * LABEL_CHAR_PX * FONT["size"] + 24 * title_lines)


MIN_ACCURACY_SPAN = 0.2  # an accuracy axis shows at least 20 points: 1.4 points stay small


def honest_accuracy_axes(fig: go.Figure) -> None:
    """An accuracy axis (its title says so, values in [0, 1]) that plotly would fit tightly to
    a 1.4-point difference (0.97-0.985 looks dramatic) spans at least MIN_ACCURACY_SPAN."""
    for name, ax in _axes(fig, "y").items():
        if ax.range is not None or "accuracy" not in (ax.title.text or "").lower():
            continue
        values = _values_on(fig, name)
        if not values or min(values) < 0 or max(values) > 1:
            continue
        low, high = min(values), max(values)
        if high - low < MIN_ACCURACY_SPAN:
            top = min(1.02, max(high + 0.02, low + MIN_ACCURACY_SPAN))
            ax.range = [max(0.0, top - MIN_ACCURACY_SPAN - 0.02), top]


def wrap_axis_titles(fig: go.Figure, height: int) -> int:
    """Wrap x-axis titles to their column's width and y-axis titles to their panel's height (a y
    title taller than its panel runs into the figure title); returns the most lines an x title takes."""
    most = 1
    chars = lambda px: max(8, int(px / (CHAR_PX * FONT["size"])))  # noqa: E731
    for letter, extent in (("x", NARROWEST_PLOT_PX), ("y", height - 150)):
        for ax in _axes(fig, letter).values():
            if not ax.title.text:
                continue
            span = (ax.domain[1] - ax.domain[0]) if ax.domain else 1.0
            ax.title.text = wrap_title(ax.title.text, chars(span * extent))
            if letter == "x":
                most = max(most, ax.title.text.count("<br>") + 1)
    return most


def apply_layout(fig: go.Figure, title: str, *, height: int = 380) -> go.Figure:
    """The app's one figure style: large type, the legend below the plot in its own margin (never
    over an axis), its height grown by what the title and legend take, titles wrapped to the
    narrowest width the page gives a figure (plotly clips, it does not wrap), columns of subplots
    spaced so that no axis title runs into the next panel. (A test that matches words of a title
    reads it with ``.replace("<br>", " ")``.)"""
    title = wrap_title(title)
    space_columns(fig)
    thin_ticks(fig)
    thin_log_ticks(fig, height)
    honest_accuracy_axes(fig)
    tick_lines = wrap_category_ticks(fig)
    sub_lines = wrap_subplot_titles(fig)
    x_lines = wrap_axis_titles(fig, height) + tick_lines - 1
    left = grow_margins_for_labels(fig)  # after the titles are wrapped
    title_lines = title.count("<br>") + 1
    # the legend is laid out across the plot's width (paper x): a wide left margin (labelled y axis) narrows it
    rows = legend_rows(fig, NARROWEST_PLOT_PX - (left - MARGIN_LEFT_PX))
    top = 34 + 38 * title_lines + 20 * (sub_lines - 1)
    bottom = 70 + LEGEND_MARGIN_ROW_PX * rows + X_TITLE_LINE_PX * (x_lines - 1)
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=TITLE_FONT, yref="container", y=1.0,
                   yanchor="top", pad=dict(t=10 + 16 * (title_lines - 1))),
        height=height + 26 * (title_lines - 1) + 20 * (sub_lines + x_lines - 2) + LEGEND_ROW_PX * rows,
        font=FONT, margin=dict(l=left, r=20, t=top, b=bottom),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                    font=FONT),
    )
    return fig


def layer_histograms(
    rows: Sequence[dict],
    *,
    row_labels: Sequence[str],
    layer_labels: Sequence[str],
    groups: Sequence[str],
    title: str,
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """The lecture's rows of histograms (filled step lines): one row per ``row_label``, one column per layer.

    ``rows``: dicts with ``group``, ``row``, ``layer`` (index), ``counts``, ``edges``, ``mean``,
    ``std``. Several ``groups`` (e.g. activations) share the grid; buttons switch between them: the
    figure draws the first group's bars, each button carries its group's bars and puts them in the same
    traces (every group's traces drawn, the others hidden, made the first draw 1.54x the CPU).
    ``colours``: the tab's colour per row label.
    """
    n_rows, n_cols = len(row_labels), len(layer_labels)
    fig = make_subplots(rows=n_rows, cols=n_cols, shared_yaxes=False,
                        horizontal_spacing=0.015, vertical_spacing=0.06 if n_rows > 1 else 0.1,
                        column_titles=list(layer_labels), row_titles=list(row_labels))
    colour = keyed_colours(row_labels, colours)

    def bars(r: dict) -> dict:
        edges = r["edges"]  # equal bins: placed by the first centre and the step (x0, dx), not a list
        width = edges[1] - edges[0]
        return dict(x0=edges[0] + width / 2, dx=width, y=r["counts"],
                    name=f"{r['group']} | {r['row']} | {layer_labels[r['layer']]}",
                    hovertemplate="value %{x:.3g}<br>count %{y}<extra>"
                    + f"mean {r['mean']:.3g}, std {r['std']:.3g}</extra>")

    first = [r for r in rows if r["group"] == groups[0]]
    for r in first:
        # the bars as one filled step line (a step at each bin's edge): one SVG path a histogram, where plotly's
        # bars drew one a bin (480 at the quick settings' 12 panels); a cold first draw took 1.58x less CPU
        # (377 -> 238 ms, bench/cold_draws.py). Half a bin at each end is not drawn (a step line starts at a centre).
        fig.add_trace(go.Scatter(**bars(r), mode="lines", line=dict(shape="hvh", width=1, color=colour[r["row"]]),
                                 fill="tozeroy", showlegend=False),
                      row=row_labels.index(r["row"]) + 1, col=r["layer"] + 1)
    fig.update_xaxes(tickfont=SMALL_FONT, nticks=3)
    fig.update_yaxes(showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(font=SMALL_FONT))  # panel titles
    if len(groups) > 1:
        by_cell = {(r["group"], r["row"], r["layer"]): r for r in rows}
        buttons = []
        for g in groups:
            drawn = [bars(by_cell[g, r["row"], r["layer"]]) for r in first]  # trace i: the same panel
            buttons.append(dict(label=g, method="update",
                                args=[{key: [d[key] for d in drawn] for key in drawn[0]},
                                      {"title.text": wrap_title(f"{title}: {g}")}]))
        fig.update_layout(updatemenus=[dict(type="buttons", direction="right", buttons=buttons,
                                            x=1.0, xanchor="right", y=1.12, yanchor="bottom")])
    apply_layout(fig, f"{title}: {groups[0]}", height=max(260, 130 * n_rows + 90))
    fig.update_layout(margin=dict(l=20, r=110, b=30))  # the top: room for the title
    return fig


def per_layer_profiles(series: Sequence[dict], *, panels: Sequence[tuple[str, str, bool]],
                       title: str, x_title: str = "layer", colours: Mapping[str, str] | None = None) -> go.Figure:
    """Side-by-side line panels over layers. ``series``: dicts with ``name``, ``color_key``,
    ``dash_key`` and one list per panel key; ``panels``: (key, y title, log y); ``colours``: the
    tab's colour per ``color_key`` (:func:`variant_colours`)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[1] for p in panels],
                        horizontal_spacing=0.08)
    colour = keyed_colours([s["color_key"] for s in series], colours)
    dash_keys = list(dict.fromkeys(s["dash_key"] for s in series))
    for col, (key, y_title, log_y) in enumerate(panels, start=1):
        for s in series:
            values = s[key]
            fig.add_trace(go.Scatter(
                x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=s["name"],
                legendgroup=s["name"], showlegend=col == 1,
                line=dict(color=colour[s["color_key"]],
                          dash=DASHES[dash_keys.index(s["dash_key"]) % len(DASHES)])),
                row=1, col=col)
        fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear", row=1, col=col)
        fig.update_xaxes(title_text=x_title, dtick=1, row=1, col=col)
    return apply_layout(fig, title, height=420)


OFF_SCALE_QUANTILE = 0.9  # most points of most curves lie below it: a diverged run does not
OFF_SCALE_HEADROOM = 1.5  # the axis ends this far above that quantile when a curve leaves the scale


def off_scale_cap(series: Sequence[Sequence[float | None]]) -> float | None:
    """The top of a linear axis that keeps one diverged run (a loss of 1e22, or NaN) from
    flattening the others: OFF_SCALE_HEADROOM x the OFF_SCALE_QUANTILE of every finite value,
    or None when every value fits under it anyway.

    >>> off_scale_cap([[2.3, 2.0, 1.5, 1.0], [2.3, 2.1, 9e21, None]])
    3.45
    >>> off_scale_cap([[2.3, 2.0, 1.5, 1.0]]) is None
    True
    """
    finite = sorted(v for ys in series for v in ys if v is not None and math.isfinite(v))
    if len(finite) < 4:
        return None
    cap = round(finite[int(OFF_SCALE_QUANTILE * (len(finite) - 1))] * OFF_SCALE_HEADROOM, 6)
    beyond = any(v is None or not math.isfinite(v) or v > cap for ys in series for v in ys)
    return cap if cap > 0 and beyond else None


def mark_off_scale(fig: go.Figure, curves: Sequence[dict], *, cap: float, row: int, col: int) -> None:
    """Cap the y axis at ``cap`` and mark where each curve (``name``, ``x``, ``y``, ``color``) first
    leaves it (beyond the cap, or not a number): a triangle at the top edge, "diverged" beside
    it, the value in its hover text. The curves' data stay as measured."""
    for c in curves:
        at = next((i for i, v in enumerate(c["y"]) if v is None or not math.isfinite(v) or v > cap), None)
        if at is None:
            continue
        value = c["y"][at]
        fig.add_trace(go.Scatter(
            x=[c["x"][at]], y=[cap], mode="markers+text", name=f"{c['name']}: off the scale",
            text=["diverged"], textposition="bottom left", showlegend=False, cliponaxis=False,
            marker=dict(symbol="triangle-up", size=14, color=c["color"]),
            hovertemplate=f"{c['name']}: loss {value if value is not None else 'NaN'} at step %{{x}}<extra></extra>"),
            row=row, col=col)
    fig.update_yaxes(range=[0, cap], row=row, col=col)


def training_curves(histories: Sequence[dict], *, title: str, log_loss: bool = False,
                    colours: Mapping[str, str] | None = None) -> go.Figure:
    """Training loss per step and test accuracy at each evaluation, one line per variant.
    ``histories``: dicts with ``name``, ``color_key``, ``dash_key``, ``steps``, ``loss``,
    ``eval_steps``, ``test_accuracy``; ``colours``: the tab's colour per ``color_key``. A run that
    diverges leaves the loss axis at the top, marked, so the others keep their scale; ``log_loss``
    draws the loss on a log axis instead (for a lesson whose point is losses decades apart)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["training loss (cross-entropy)",
                                                        "test accuracy"], horizontal_spacing=0.1)
    colour = keyed_colours([h["color_key"] for h in histories], colours)
    dash_keys = list(dict.fromkeys(h["dash_key"] for h in histories))
    for h in histories:
        line = dict(color=colour[h["color_key"]],
                    dash=DASHES[dash_keys.index(h["dash_key"]) % len(DASHES)])
        fig.add_trace(go.Scatter(x=h["steps"], y=h["loss"], mode="lines", name=h["name"],
                                 legendgroup=h["name"], line=line), row=1, col=1)
        fig.add_trace(go.Scatter(x=h["eval_steps"], y=h["test_accuracy"], mode="lines+markers",
                                 name=h["name"], legendgroup=h["name"], showlegend=False, line=line),
                      row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=2)
    cap = None if log_loss else off_scale_cap([h["loss"] for h in histories])
    if log_loss:
        fig.update_yaxes(type="log", row=1, col=1)
    elif cap is not None:  # a diverged run: the others keep their scale, it is marked at the top
        mark_off_scale(fig, [dict(name=h["name"], x=h["steps"], y=h["loss"], color=trace.line.color)
                             for h, trace in zip(histories, fig.data[::2])], cap=cap, row=1, col=1)
        fig.update_yaxes(title_text="loss (axis capped)", row=1, col=1)
    return apply_layout(fig, title, height=420)


def small_multiples(panels: Sequence[dict], *, n_cols: int, title: str, x_title: str,
                    y_title: str, log_y: bool = False) -> go.Figure:
    """A grid of small line charts. ``panels``: dicts with ``title`` and ``lines`` (each a dict
    with ``name``, ``x``, ``y``, optional ``dash`` (an index into DASHES: two runs in one panel, say
    which is which in the title) and ``meta``); a line name has the same colour in every panel."""
    n_rows = max(1, -(-len(panels) // n_cols))
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[p["title"] for p in panels],
                        shared_yaxes=True, horizontal_spacing=0.03, vertical_spacing=0.12)
    colour = keyed_colours([line["name"] for p in panels for line in p["lines"]])
    in_legend: set[str] = set()
    for i, panel in enumerate(panels):
        for line in panel["lines"]:
            fig.add_trace(go.Scatter(x=line["x"], y=line["y"], mode="lines+markers", name=line["name"],
                                     legendgroup=line["name"], showlegend=line["name"] not in in_legend,
                                     meta=line.get("meta"), marker=dict(size=4),
                                     line=dict(color=colour[line["name"]], dash=DASHES[line.get("dash", 0)])),
                          row=i // n_cols + 1, col=i % n_cols + 1)
            in_legend.add(line["name"])
    fig.update_xaxes(title_text=x_title, row=n_rows)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig.update_yaxes(title_text=y_title, col=1)
    fig.for_each_annotation(lambda a: a.update(font=SMALL_FONT))  # panel titles
    return apply_layout(fig, title, height=max(300, 220 * n_rows + 120))


COLORBAR_PX = 100


def heatmap(values: Sequence[Sequence[float]], *, x_labels: Sequence[str], y_labels: Sequence[str],
            title: str, colorbar: str, zmin: float = 0.0, zmax: float = 1.0, fmt: str = ".0%") -> go.Figure:
    """A labelled heat map with each cell's value written in it."""
    text = [[format(v, fmt) for v in row] for row in values]
    fig = go.Figure(go.Heatmap(z=values, x=list(x_labels), y=list(y_labels), zmin=zmin, zmax=zmax,
                               colorscale="Reds", text=text, texttemplate="%{text}",
                               colorbar=dict(title=colorbar)))
    fig.update_yaxes(autorange="reversed")
    apply_layout(fig, title, height=max(260, 34 * len(y_labels) + 140))
    # the colour bar's room at once: plotly grew the right margin to 93 px for it, drawing the figure twice
    return fig.update_layout(margin=dict(r=COLORBAR_PX))


def grouped_bars(groups: Sequence[dict], *, categories: Sequence[str], title: str, y_title: str,
                 reference: Sequence[float] | None = None, reference_name: str = "",
                 colours: Mapping[str, str] | None = None) -> go.Figure:
    """Bars per category, one bar per group (``name``, ``values``, optional ``color_key``: the name
    if absent); an optional reference line; ``colours``: the tab's colour per ``color_key``."""
    fig = go.Figure()
    colour = keyed_colours([g.get("color_key", g["name"]) for g in groups], colours)
    for g in groups:
        fig.add_trace(go.Bar(x=list(categories), y=g["values"], name=g["name"],
                             marker_color=colour[g.get("color_key", g["name"])],
                             text=[f"{v:g}" for v in g["values"]], textposition="outside"))
    if reference is not None:
        fig.add_trace(go.Scatter(x=list(categories), y=list(reference), mode="markers+lines",
                                 name=reference_name, line=dict(color="black", dash="dot")))
    fig.update_yaxes(title_text=y_title)
    return apply_layout(fig, title, height=400)
