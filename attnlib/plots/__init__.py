"""Figures for the notebooks: slices with label overlays, training curves, Figure 5, attention
maps, claims.

Every function draws with matplotlib and returns the ``Figure``; nothing is shown or saved
here (notebooks display the figure, ``fig.savefig`` saves it). The notebooks call them as
``plots.<name>``; each lives in one of these modules:

    slices   overlay, show_slices, plot_attention: slices, membranes in red, attention maps
    errors   plot_predictions (the paper's Figure 5), plot_error_crops: the error maps
    results  plot_history, plot_threshold_sweep, plot_isbi_curves, plot_claims,
             plot_selection: numbers as lines and dots
"""

from .errors import ERROR_COLOURS, plot_error_crops, plot_predictions
from .results import (
    plot_claims,
    plot_history,
    plot_isbi_curves,
    plot_selection,
    plot_threshold_sweep,
)
from .slices import MEMBRANE_RGBA, overlay, plot_attention, show_slices

__all__ = [
    "MEMBRANE_RGBA",
    "ERROR_COLOURS",
    "overlay",
    "show_slices",
    "plot_attention",
    "plot_predictions",
    "plot_error_crops",
    "plot_history",
    "plot_threshold_sweep",
    "plot_isbi_curves",
    "plot_claims",
    "plot_selection",
]
