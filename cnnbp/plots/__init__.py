"""Pure functions: measured numbers -> plotly figures. ``common`` holds the shared chart
types; a lesson with figures of its own adds a module here (``plots/<lesson>.py``)."""

from cnnbp.plots.common import (color_for, grouped_bars, heatmap, layer_histograms, per_layer_profiles,
                                small_multiples, training_curves)

__all__ = ["color_for", "grouped_bars", "heatmap", "layer_histograms", "per_layer_profiles",
           "small_multiples", "training_curves"]
