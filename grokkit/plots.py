"""Plotly figures (one function per figure kind) and figure export (HTML always, PNG when a static
exporter is available)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORS = {"train": "#1f77b4", "test": "#d62728"}


def training_curves(run, member: int | None = 0, log_x: bool = True, title: str | None = None,
                    metrics=("acc", "loss"), times: pd.DataFrame | None = None) -> go.Figure:
    """Train/test accuracy and loss against step, t_mem / t_gen marked (dotted lines).

    run: a Run, or its tidy history table (step, member, split, metric, value), e.g. a section Result's;
    times: the grokking-times table (member, t_mem, t_gen; default: the Run's) for the dotted lines.
    member=None overlays every member (thin lines)."""
    h = run.history if hasattr(run, "history") else run
    members = [int(m) for m in sorted(h.member.unique())] if member is None else [int(member)]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[m.capitalize() for m in metrics])
    for j, metric in enumerate(metrics, start=1):
        for split in ("train", "test"):
            for m in members:
                s = h[(h.member == m) & (h.split == split) & (h.metric == metric)].sort_values("step")
                if not len(s):
                    continue
                x = s.step.to_numpy().astype(float)
                if log_x:
                    x = np.maximum(x, 1)
                fig.add_trace(go.Scatter(
                    x=x, y=s.value, mode="lines", name=split if m == members[0] else None,
                    legendgroup=split, showlegend=bool(j == 1 and m == members[0]),
                    line=dict(color=COLORS[split], width=2 if len(members) == 1 else 1),
                    opacity=1.0 if len(members) == 1 else 0.5,
                    hovertemplate=f"member {m}<br>step %{{x}}<br>{split} {metric} %{{y:.4g}}<extra></extra>"),
                    row=1, col=j)
        if metric == "loss":
            fig.update_yaxes(type="log", row=1, col=j)
    if times is None:
        times = getattr(run, "times", None)
    if times is not None and len(members) == 1:
        t = times[times.member == members[0]]
        for name, color, y in (("t_mem", COLORS["train"], 0.15), ("t_gen", COLORS["test"], 0.5)):
            v = float(t[name].iloc[0]) if len(t) else float("nan")
            if not np.isfinite(v):
                continue
            x = max(v, 1) if log_x else v
            for j in range(1, len(metrics) + 1):
                fig.add_vline(x=x, line=dict(color=color, dash="dot"), row=1, col=j)
            # annotations on log axes take log10 coordinates
            fig.add_annotation(x=np.log10(x) if log_x else x, y=y, xref="x", yref="y", text=f" {name}={int(v)}",
                               showarrow=False, xanchor="left", font=dict(color=color))
    fig.update_xaxes(title_text="step", type="log" if log_x else "linear")
    fig.update_layout(title=title, height=380, template="plotly_white", margin=dict(t=70, l=50, r=20, b=40))
    return fig


def live_curves(title: str = "training") -> go.FigureWidget:
    """An empty FigureWidget with train/test accuracy traces to update while training."""
    fig = go.FigureWidget(make_subplots(rows=1, cols=2, subplot_titles=["Accuracy", "Loss"]))
    for j in (1, 2):
        for split in ("train", "test"):
            fig.add_trace(go.Scatter(x=[], y=[], mode="lines", name=split, line=dict(color=COLORS[split]),
                                     showlegend=j == 1), row=1, col=j)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(title=title, height=350, template="plotly_white")
    return fig


def live_callback(fig: go.FigureWidget, member: int = 0):
    """A fit() callback that appends the member's train/test acc and loss to `live_curves` traces."""
    def update(ctx):
        m = ctx.metrics
        with fig.batch_update():
            for j, metric in enumerate(("acc", "loss")):
                for k, split in enumerate(("train", "test")):
                    key = f"{split}/{metric}"
                    if key in m:
                        tr = fig.data[2 * j + k]
                        tr.x = tuple(tr.x) + (ctx.step,)
                        tr.y = tuple(tr.y) + (float(m[key][member]),)
        return None
    update.cache_key = "live_callback"  # display only: does not change the run
    return update


def line(df: pd.DataFrame, x: str, y: str, color: str | None = None, *, log_x=False, log_y=False,
         title=None, markers=True, error_y: str | None = None) -> go.Figure:
    """A tidy-table line plot (thin wrapper so notebooks share one style)."""
    fig = go.Figure()
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=True))
    for name, g in groups:
        g = g.sort_values(x)
        fig.add_trace(go.Scatter(x=g[x], y=g[y], name=str(name) if name is not None else y,
                                 mode="lines+markers" if markers else "lines",
                                 error_y=dict(type="data", array=g[error_y]) if error_y else None))
    fig.update_xaxes(title_text=x, type="log" if log_x else "linear")
    fig.update_yaxes(title_text=y, type="log" if log_y else "linear")
    fig.update_layout(title=title, template="plotly_white", height=380,
                      legend_title_text=color or "")
    return fig


def export(fig: go.Figure, output_dir: str | os.PathLike, name: str, *, static: bool | None = None) -> list[Path]:
    """Write name.html (always; plotly.min.js once beside it, so it works offline) and name.png
    (when kaleido and a Chrome/Chromium are available).
    GROKKIT_STATIC=0 disables static export."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{name}.html"]
    fig.write_html(written[0], include_plotlyjs="directory", full_html=True)
    if static is None:
        static = os.environ.get("GROKKIT_STATIC", "1") not in ("0", "false", "off")
    if static:
        try:
            fig.write_image(out / f"{name}.png", width=900, height=int(fig.layout.height or 450), scale=1)
            written.append(out / f"{name}.png")
        except Exception as e:  # no kaleido / no browser: HTML is enough
            if not getattr(export, "_warned", False):
                print(f"(static PNG export unavailable: {type(e).__name__}; HTML written)")
                export._warned = True
    return written
