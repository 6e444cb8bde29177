"""The notebook's compare view: an ipywidgets widget over :mod:`jupyter_mltrack.compare`.

``mltrack.compare(3, 5, 7)`` and ``%mltrack compare 3 5 7`` return a :class:`CompareWidget`:
a run picker (the experiment's runs, the given ones selected; any change recomputes) and three
tabs — the table of what differs (below it the code's diffs, and the differing artifacts: text
files diffed, images side by side), the charts (a plotly ``FigureWidget`` fed by the figures of
``compare/charts.py``, the same ones the sidebar and the CLI report draw) and the explanation
(``explain`` for a metric and two runs). Only standard ipywidgets controls and plotly's
``FigureWidget`` are used, so it works wherever ipywidgets does: JupyterLab, Notebook 7,
VS Code.

A widget shows nothing where no frontend renders widgets (GitHub, nbconvert's HTML without
saved widget state), so the display bundle also carries a static ``text/html`` rendering:
the table, the charts as static plotly HTML (plotly.js from its CDN: a page that strips
scripts, as GitHub does, shows the tables only) and the explanation, as they were when the
widget was displayed. Frontends that render widgets prefer the widget's MIME type, even when
its model is gone: JupyterLab and Notebook 7 show ipywidgets' "model not found" for a
notebook reopened after its kernel stopped (re-run the cell), not the HTML.

This module imports ipywidgets and plotly; it is itself imported only when a comparison is
shown, so ``import jupyter_mltrack`` stays cheap.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from . import render

if TYPE_CHECKING:
    from ..store.entities import Run
    from ..store.store import Store

#: Runs the picker offers per experiment (the most recent ones).
PICKER_LIMIT = 500
TAB_TABLE, TAB_CHARTS, TAB_WHY = 0, 1, 2
ALL_METRICS = ""


class CompareWidget(widgets.VBox):
    """Compare runs in a notebook: a run picker and tabs for the table, charts and "why?".

    ``run_ids`` are full run ids (the public ``mltrack.compare`` resolves numbers and
    prefixes); the first one is the baseline. The picker offers the runs of their
    experiments (and of ``experiment``, when given). ``metric`` preselects the metric of the
    charts and of the explanation.
    """

    def __init__(
        self,
        store: Store,
        run_ids: Sequence[str],
        *,
        experiment: str | None = None,
        metric: str | None = None,
    ) -> None:
        self.store = store
        self.comparison: Any = None
        self.data: dict[str, Any] | None = None
        self.explanation: Any = None
        self.error: str | None = None
        self._metric = metric
        self._dirty = {TAB_CHARTS: True, TAB_WHY: True}
        self._updating = False
        #: Image artifacts read so far, as ``data:`` URIs by digest (the bytes behind a
        #: digest never change).
        self._image_uris: dict[str, str] = {}

        experiments = [experiment] if experiment else []
        for run_id in run_ids:
            name = store.get_run(run_id).experiment
            if name not in experiments:
                experiments.append(name)
        self._experiments = experiments
        self._runs: dict[str, Run] = {}

        self.status = widgets.HTML()
        self.picker = widgets.SelectMultiple(
            description="Runs", layout=widgets.Layout(width="auto", min_width="320px")
        )
        self._load_runs(run_ids)
        self.baseline = widgets.Dropdown(description="Baseline", layout={"width": "max-content"})
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Re-read the runs (still running?)"
        )
        # table tab
        self.differences_only = widgets.Checkbox(value=True, description="Differences only")
        self.table = widgets.HTML()
        # charts tab
        self.chart_kind = widgets.ToggleButtons(
            options=[("Curves", "curves"), ("Bars", "bars"), ("Parallel", "parallel")],
            value="curves",
        )
        self.chart_metric = widgets.Dropdown(description="Metric")
        self.x_axis = widgets.ToggleButtons(
            options=[("Step", "step"), ("Relative time", "relative"), ("Wall time", "wall")],
            value="step",
            description="x",
        )
        self.smoothing = widgets.FloatSlider(
            value=0.0, min=0.0, max=0.99, step=0.01, description="Smoothing"
        )
        self.log_y = widgets.Checkbox(value=False, description="Log scale")
        self.chart_message = widgets.HTML()
        #: The plotly ``FigureWidget``, made when the Charts tab is first opened: importing it
        #: costs seconds (anywidget, plotly's renderers), which showing the table need not.
        self.figure: Any = None
        self.chart_box = widgets.VBox()
        # why tab
        self.why_metric = widgets.Dropdown(description="Metric")
        self.run_a = widgets.Dropdown(description="Run A")
        self.run_b = widgets.Dropdown(description="Run B")
        self.why = widgets.HTML()

        self.tabs = widgets.Tab(
            children=[
                widgets.VBox([self.differences_only, self.table]),
                widgets.VBox(
                    [
                        widgets.HBox([self.chart_kind, self.chart_metric]),
                        widgets.HBox([self.x_axis, self.smoothing, self.log_y]),
                        self.chart_message,
                        self.chart_box,
                    ]
                ),
                widgets.VBox([widgets.HBox([self.why_metric, self.run_a, self.run_b]), self.why]),
            ]
        )
        for i, title in enumerate(("Table", "Charts", "Why?")):
            self.tabs.set_title(i, title)
        super().__init__(
            [
                self.status,
                widgets.HBox([self.picker, widgets.VBox([self.baseline, self.refresh_button])]),
                self.tabs,
            ]
        )
        self.add_class("jp-mltrack-compare-widget")

        self._set_baseline_options(list(run_ids))
        self.picker.observe(self._on_selection, names="value")
        self.baseline.observe(self._on_recompute, names="value")
        self.refresh_button.on_click(lambda _button: self._reload())
        self.differences_only.observe(lambda _change: self._render_table(), names="value")
        for control in (self.chart_kind, self.chart_metric, self.x_axis, self.log_y):
            control.observe(self._on_chart_control, names="value")
        self.smoothing.observe(self._on_chart_control, names="value")
        for control in (self.why_metric, self.run_a, self.run_b):
            control.observe(self._on_why_control, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.recompute()

    # selection ----------------------------------------------------------------------------

    @staticmethod
    def _label(run: Run, many: bool, *, long: bool = False) -> str:
        label = f"{run.experiment} #{run.number}" if many else f"#{run.number}"
        if long:
            if run.name:
                label += f" {run.name}"
            if run.status.value != "finished":
                label += f" ({run.status.value})"
        return label

    @property
    def selected_ids(self) -> list[str]:
        """The selected runs, the baseline first, then the others in the picker's order."""
        chosen = list(self.picker.value)
        base = self.baseline.value
        if base in chosen:
            chosen.remove(base)
            chosen.insert(0, base)
        return chosen

    def _load_runs(self, selected: Sequence[str]) -> None:
        """(Re)list the experiments' runs in the picker, keeping ``selected`` selected."""
        found: dict[str, Run] = {}
        for name in self._experiments:
            runs, _total = self.store.search_runs(
                experiment=name, order="-start_time", limit=PICKER_LIMIT
            )
            found.update((r.id, r) for r in runs)
        found.update((r, self.store.get_run(r)) for r in selected if r not in found)
        self._runs = found
        many = len({r.experiment for r in found.values()}) > 1
        ordered = sorted(found.values(), key=lambda r: (r.experiment, r.number))
        was, self._updating = self._updating, True
        try:
            self.picker.options = [(self._label(r, many, long=True), r.id) for r in ordered]
            self.picker.rows = min(8, max(3, len(ordered)))
            self.picker.value = tuple(selected)
        finally:
            self._updating = was

    def _set_baseline_options(self, preferred: list[str], baseline: str | None = None) -> None:
        chosen = list(self.picker.value)
        current = baseline or self.baseline.value
        if current not in chosen:
            current = next((r for r in preferred if r in chosen), chosen[0] if chosen else None)
        was, self._updating = self._updating, True
        try:
            self.baseline.options = [(self.picker_label(r), r) for r in chosen]
            self.baseline.value = current
        finally:
            self._updating = was

    def picker_label(self, run_id: str) -> str:
        many = len({r.experiment for r in self._runs.values()}) > 1
        return self._label(self._runs[run_id], many)

    def _on_selection(self, _change: Any) -> None:
        if self._updating:
            return
        self._set_baseline_options([])
        self.recompute()

    def _on_recompute(self, _change: Any) -> None:
        if not self._updating:
            self.recompute()

    def _reload(self) -> None:
        """The Refresh button: new runs appear in the picker, running ones are re-read."""
        self._load_runs(list(self.picker.value))
        self.recompute()

    # computing ----------------------------------------------------------------------------

    def recompute(self) -> None:
        """Compare the selected runs and redraw the table; the charts and the explanation are
        redrawn now if their tab is shown, else when it is opened."""
        from ..compare import CompareError, compare

        ids = self.selected_ids
        self.comparison = self.data = self.explanation = None
        self.error = None
        if len(ids) < 2:
            self.error = "Select at least two runs to compare."
        else:
            try:
                self.comparison = compare(self.store, ids, baseline=ids[0])
                self.data = self.comparison.to_dict()
            except (CompareError, LookupError) as exc:
                self.error = str(exc)
        self._render_status()
        self._update_controls()
        self._render_table()
        self._dirty = {TAB_CHARTS: True, TAB_WHY: True}
        self._on_tab(None)

    def _render_status(self) -> None:
        if self.error:
            self.status.value = f'<p style="color:{render.WORSE}">{html.escape(self.error)}</p>'
            return
        runs = (self.data or {}).get("runs") or []
        experiments = sorted({r.get("experiment") or "" for r in runs})
        self.status.value = (
            f"<b>Comparing {len(runs)} runs</b> of {html.escape(', '.join(experiments))}; "
            f"baseline {html.escape(str(runs[0].get('label', '')))}"
        )

    def metric_keys(self) -> list[str]:
        return [m["key"] for m in (self.data or {}).get("metrics") or []]

    def _update_controls(self) -> None:
        keys = self.metric_keys()
        preferred = self._metric if self._metric in keys else (keys[0] if keys else None)
        self._updating = True
        try:
            current = self.chart_metric.value
            self.chart_metric.options = [("all metrics", ALL_METRICS), *((k, k) for k in keys)]
            self.chart_metric.value = (
                current
                if current in keys
                else (self._metric if self._metric in keys else ALL_METRICS)
            )
            current = self.why_metric.value
            self.why_metric.options = keys
            self.why_metric.value = current if current in keys else preferred
            runs = [(self.picker_label(r), r) for r in self.selected_ids]
            ids = [r for _label, r in runs]
            a, b = self.run_a.value, self.run_b.value
            self.run_a.options = runs
            self.run_b.options = runs
            self.run_a.value = a if a in ids else (ids[0] if ids else None)
            self.run_b.value = (
                b
                if b in ids and b != self.run_a.value
                else (next((r for r in ids if r != self.run_a.value), None))
            )
        finally:
            self._updating = False

    # table --------------------------------------------------------------------------------

    def _render_table(self) -> None:
        if self.data is None:
            self.table.value = ""
            return
        self.table.value = render.comparison_html(
            self.data, differences_only=self.differences_only.value, images=self.artifact_images()
        )

    def artifact_images(self) -> dict[tuple[str, str], str]:
        """The differing image artifacts the table shows side by side, as ``data:`` URIs by
        ``(run id, name)`` (see :func:`..compare.artifacts.embedded_images`), each read once
        per widget."""
        from ..compare.artifacts import embedded_images

        rows = (self.data or {}).get("artifacts") or []
        return embedded_images(self.store, rows, cache=self._image_uris)

    # charts -------------------------------------------------------------------------------

    def _on_tab(self, _change: Any) -> None:
        index = self.tabs.selected_index
        if index in self._dirty and self._dirty[index]:
            self._dirty[index] = False
            if index == TAB_CHARTS:
                self._render_chart()
            elif index == TAB_WHY:
                self._render_why()

    def _on_chart_control(self, _change: Any) -> None:
        if self._updating:
            return
        if self.tabs.selected_index == TAB_CHARTS:
            self._render_chart()
        else:
            self._dirty[TAB_CHARTS] = True

    def build_figure(self, kind: str | None = None) -> Any:
        """The plotly figure the Charts tab shows for the current controls (None without a
        comparison)."""
        from ..compare import charts

        if self.comparison is None:
            return None
        kind = kind or self.chart_kind.value
        metric = self.chart_metric.value or None
        metrics = [metric] if metric else None
        if kind == "curves":
            return charts.curves_figure(
                self.store,
                self.selected_ids,
                metrics,
                x=self.x_axis.value,
                smoothing=float(self.smoothing.value),
                log_y=bool(self.log_y.value),
            )
        if kind == "bars":
            return charts.bars_figure(self.comparison, metrics)
        return charts.parallel_figure(self.store, runs=self.selected_ids, color=metric)

    def _render_chart(self) -> None:
        curves = self.chart_kind.value == "curves"
        for control in (self.x_axis, self.smoothing, self.log_y):
            control.disabled = not curves
        self.chart_message.value = ""
        try:
            fig = self.build_figure()
        except Exception as exc:  # a chart that cannot be drawn must not break the widget
            fig = None
            self.chart_message.value = (
                f'<p style="color:{render.WORSE}">Cannot draw this chart: '
                f"{html.escape(str(exc))}</p>"
            )
        if self.figure is None:
            self.figure = _figure_widget()
            self.chart_box.children = (self.figure,)
        with self.figure.batch_update():
            self.figure.data = ()
            if fig is not None:
                self.figure.add_traces(list(fig.data))
                self.figure.layout = fig.layout

    # explanation --------------------------------------------------------------------------

    def _on_why_control(self, _change: Any) -> None:
        if self._updating:
            return
        if self.tabs.selected_index == TAB_WHY:
            self._render_why()
        else:
            self._dirty[TAB_WHY] = True

    def explain_current(self) -> Any:
        """The explanation for the Why? tab's metric and runs (None when not all are set)."""
        from ..compare import explain

        a, b, metric = self.run_a.value, self.run_b.value, self.why_metric.value
        if self.comparison is None or not (a and b and metric) or a == b:
            return None
        return explain(self.store, a, b, metric)

    def _render_why(self) -> None:
        self.explanation = None
        try:
            self.explanation = self.explain_current()
        except (ValueError, LookupError) as exc:
            self.why.value = f'<p style="color:{render.WORSE}">{html.escape(str(exc))}</p>'
            return
        if self.explanation is None:
            self.why.value = "<p>Pick a metric and two different runs.</p>"
        else:
            self.why.value = render.explanation_html(self.explanation.to_dict())

    # display ------------------------------------------------------------------------------

    def static_html(self) -> str:
        """The comparison as static HTML (table, charts, explanation), for a notebook viewed
        where the widget cannot run. Charts load plotly.js from its CDN."""
        title = self.status.value
        if self.data is None:
            return f"<div>{title}</div>"
        parts = [
            f"<div>{title}</div>",
            render.comparison_html(
                self.data,
                differences_only=self.differences_only.value,
                images=self.artifact_images(),
            ),
        ]
        metrics = (self.data or {}).get("metrics") or []
        kinds = (["curves"] if any(m.get("has_series") for m in metrics) else []) + (
            ["bars"] if metrics else []
        )
        for kind in kinds:
            try:
                fig = self.build_figure(kind)
            except Exception:  # the table still tells the story
                continue
            if fig is not None:
                parts.append(fig.to_html(include_plotlyjs="cdn", full_html=False))
        explanation = self.explanation
        if explanation is None and self._metric:
            try:
                explanation = self.explain_current()
            except (ValueError, LookupError):
                explanation = None
        if explanation is not None:
            parts.append("<h4>Why?</h4>" + render.explanation_html(explanation.to_dict()))
        return '<div class="jp-mltrack-compare-static">' + "".join(parts) + "</div>"

    def __repr__(self) -> str:
        labels = ", ".join(self.picker_label(r) for r in self.selected_ids)
        return f"<CompareWidget {labels}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view, plus a static HTML copy and a text table for frontends without
        widgets (and for the saved notebook)."""
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        try:
            bundle["text/html"] = self.static_html()
        except Exception as exc:  # never lose the widget over its fallback
            bundle["text/html"] = f"<p>{html.escape(f'comparison not rendered: {exc}')}</p>"
        if self.data is not None:
            bundle["text/plain"] = render.comparison_text(self.data)
        elif self.error:
            bundle["text/plain"] = self.error
        return bundle


def _figure_widget() -> Any:
    import plotly.graph_objects as go

    return go.FigureWidget(layout={"height": 420, "margin": {"t": 40, "r": 20, "b": 40}})
