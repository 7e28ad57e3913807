"""Optuna's own visualisations of a study, as one self-contained interactive HTML page.

One page with plotly.js embedded once (about 3.6 MB) rather than four pages
that each embed it: the MLflow UI shows HTML artifacts offline, with no CDN.
The figures process (``report_process``) draws it from ``StudyPlotsInputs``;
plotly is imported when the first plot is drawn, so importing this module is cheap.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna import visualization  # Optuna's lazy module: plotly loads on first use
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

PLOTS: tuple[tuple[str, str], ...] = (  # titles and functions of optuna.visualization
    ("Optimization history", "plot_optimization_history"),
    ("Parameter importances", "plot_param_importances"),
    ("Parallel coordinates", "plot_parallel_coordinate"),
    ("Slice plot", "plot_slice"),
)


def study_plots_html(ostudy: optuna.Study) -> str:
    """Each plot Optuna can draw for the study; a one-line note for each it cannot."""
    sections = []
    plotly_included = False
    for title, plot in PLOTS:
        try:
            with warnings.catch_warnings():  # importance warns when trials are few
                warnings.simplefilter("ignore")
                fig = getattr(visualization, plot)(ostudy)
        except Exception as exc:  # Optuna raises several kinds for too few trials
            sections.append(f"<h2>{title}</h2><p>not available: {html.escape(str(exc))}</p>")
            continue
        body = fig.to_html(full_html=False, include_plotlyjs=not plotly_included)
        plotly_included = True
        sections.append(f"<h2>{title}</h2>{body}")
    name = html.escape(ostudy.study_name)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{name}</title></head>"
        f"<body><h1>Study {name}</h1>{''.join(sections)}</body></html>"
    )


@dataclass(frozen=True)
class StudyPlotsInputs:
    """A study's trials, all its plots need, for a process that cannot open its storage."""

    study_name: str
    directions: Sequence[StudyDirection]
    trials: Sequence[FrozenTrial]

    @classmethod
    def of(cls, ostudy: optuna.Study) -> StudyPlotsInputs:
        finished = [t for t in ostudy.get_trials(deepcopy=False) if t.state.is_finished()]
        return cls(ostudy.study_name, ostudy.directions, finished)

    def study(self) -> optuna.Study:
        """The trials as an in-memory study."""
        view = optuna.create_study(directions=list(self.directions), study_name=self.study_name)
        view.add_trials(self.trials)
        return view


def warm_up() -> None:
    """Draw a tiny study's plots once: plotly's first figure of each kind in a
    process costs 0.9 s (its modules and templates), later ones 0.06 s."""
    ostudy = optuna.create_study()
    for x in (0.1, 0.5, 0.9):
        ostudy.enqueue_trial({"x": x})
    ostudy.optimize(
        lambda trial: trial.suggest_float("x", 0, 1) + trial.suggest_int("n", 1, 3), n_trials=3
    )
    study_plots_html(ostudy)
