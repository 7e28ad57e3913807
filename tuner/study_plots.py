"""Optuna's own visualisations of a study, as one self-contained interactive HTML page.

One page with plotly.js embedded once (about 3.6 MB) rather than four pages
that each embed it: the MLflow UI shows HTML artifacts offline, with no CDN.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable

import optuna
from optuna import visualization

PLOTS: tuple[tuple[str, Callable[[optuna.Study], object]], ...] = (
    ("Optimization history", visualization.plot_optimization_history),
    ("Parameter importances", visualization.plot_param_importances),
    ("Parallel coordinates", visualization.plot_parallel_coordinate),
    ("Slice plot", visualization.plot_slice),
)


def study_plots_html(ostudy: optuna.Study) -> str:
    """Each plot Optuna can draw for the study; a one-line note for each it cannot."""
    sections = []
    plotly_included = False
    for title, plot in PLOTS:
        try:
            with warnings.catch_warnings():  # importance warns when trials are few
                warnings.simplefilter("ignore")
                fig = plot(ostudy)
        except Exception as exc:  # Optuna raises several kinds for too few trials
            sections.append(f"<h2>{title}</h2><p>not available: {html.escape(str(exc))}</p>")
            continue
        body = fig.to_html(full_html=False, include_plotlyjs=not plotly_included)
        plotly_included = True
        sections.append(f"<h2>{title}</h2>{body}")
    name = html.escape(ostudy.study_name)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{name}</title></head>"
            f"<body><h1>Study {name}</h1>{''.join(sections)}</body></html>")
