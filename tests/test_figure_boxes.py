"""The overlap check the browser test runs on every drawn figure (tests/figure_boxes.js), run on two
small figures of its own in headless Chromium: a panel title lying on the rotated tick labels of the panel
above is reported, the same figure with room between its panels is not."""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tests.browser import open_page, require_browser

FIGURE_BOXES = Path(__file__).with_name("figure_boxes.js").read_text()
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def panels(spacing: float) -> go.Figure:
    """Two panels, one above the other; the upper one's x tick labels are long, so plotly turns them."""
    fig = make_subplots(rows=2, cols=1, subplot_titles=["upper panel", "lower panel title"],
                        vertical_spacing=spacing)
    names = [f"a long category name {i}" for i in range(8)]
    fig.add_bar(x=names, y=list(range(8)), row=1, col=1)
    fig.add_scatter(x=[0, 1, 2], y=[2, 0, 1], row=2, col=1)
    fig.update_layout(width=600, height=700, showlegend=False, font=dict(size=16), margin=dict(t=40, b=40))
    return fig


def problems_of(figures: dict[str, go.Figure]) -> dict[str, list[str]]:
    from playwright.sync_api import sync_playwright

    require_browser()
    with sync_playwright() as p:
        browser, page = open_page(p, "about:blank", viewport={"width": 1024, "height": 768})
        page.add_script_tag(path=str(PLOTLY_JS))
        for name, fig in figures.items():
            page.evaluate("([id, fig]) => { const d = document.createElement('div'); d.id = id; "
                          "document.body.appendChild(d); return Plotly.newPlot(d, fig.data, fig.layout); }",
                          [name, fig.to_plotly_json()])
        found = page.evaluate(FIGURE_BOXES, page.locator("body").element_handle())
        browser.close()
    return {f["name"]: f["problems"] for f in found}


def test_a_panel_title_on_tick_labels_is_reported():
    found = problems_of({"crowded": panels(0.02), "spaced": panels(0.45)})
    assert any("annotation" in p and "lower panel title" in p and "overlaps tick" in p for p in found["crowded"]), found
    assert found["spaced"] == [], found
