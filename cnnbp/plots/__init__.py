"""The figures' shared style and chart types (``common``): pure functions, measured numbers ->
plotly figures. Each lesson's own figures live with it, in ``lessons/<topic>/figures.py``."""

from cnnbp.plots.common import (
    color_for,
    grouped_bars,
    heatmap,
    layer_histograms,
    per_layer_profiles,
    small_multiples,
    training_curves,
    variant_colours,
)

__all__ = ["color_for", "grouped_bars", "heatmap", "layer_histograms", "per_layer_profiles",
           "small_multiples", "training_curves", "variant_colours"]
