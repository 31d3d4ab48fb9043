"""Plotly figures (one function per figure kind) and figure export (HTML always, PNG when a static
exporter is available)."""
from __future__ import annotations

import atexit
import os
import warnings
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


_KALEIDO = {"server": None, "off": False, "warned": False}  # PNG export state of the process
STATIC_TIMEOUT_S = 120.0  # one PNG takes ~0.3 s once the browser runs; a stuck browser must not hang a notebook


def find_browser() -> str | None:
    """The Chrome / Chromium that kaleido would start (BROWSER_PATH, PATH, the usual install places), or None.
    Without one, kaleido's sync server waits forever for a browser that never starts: look first."""
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:  # kaleido < 1 (bundled its own browser) or no kaleido: let write_image decide
        return "kaleido"
    try:
        path = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 best-effort search
        return None
    return path if path and os.access(path, os.X_OK) else None  # BROWSER_PATH is not checked by choreographer


class StaticExportOff(RuntimeError):
    """PNG export cannot work in this process (no browser, or a browser that stopped answering)."""


def _kaleido_server() -> None:
    """Keep one headless browser for every PNG of the process (kaleido >= 1 starts Chromium per figure
    otherwise: ~3 s each, and a notebook writes ten or more). StaticExportOff when there is no browser to start."""
    if _KALEIDO["server"] is not None:
        return
    if find_browser() is None:
        raise StaticExportOff("no Chrome / Chromium found")
    _KALEIDO["server"] = False
    try:
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        _KALEIDO["server"] = True
    except Exception:  # an older kaleido: one browser per figure, as before
        pass


def _write_png(fig: go.Figure, path: Path, timeout_s: float) -> None:
    """fig.write_image in a daemon thread, given up after timeout_s (StaticExportOff)."""
    import threading

    box: dict = {}

    def work():
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The kopts argument is ignored")
                fig.write_image(path, width=900, height=int(fig.layout.height or 450), scale=1)
        except BaseException as e:  # noqa: BLE001 re-raised in the caller
            box["error"] = e

    t = threading.Thread(target=work, daemon=True, name="grokkit-png")
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise StaticExportOff(f"no PNG after {timeout_s:g} s (browser stuck?)")
    if "error" in box:
        raise box["error"]


def _static_unavailable(reason: str) -> None:
    if not _KALEIDO["warned"]:
        print(f"(static PNG export unavailable: {reason}; HTML written. Install Chromium, e.g. "
              "`bash tools/ensure_chromium.sh`, or set BROWSER_PATH; GROKKIT_STATIC=0 silences this)")
        _KALEIDO["warned"] = True


def export(fig: go.Figure, output_dir: str | os.PathLike, name: str, *, static: bool | None = None) -> list[Path]:
    """Write name.html (always; plotly.min.js once beside it, so it works offline) and name.png
    (when kaleido and a Chrome/Chromium are available; without a browser, or when one PNG takes longer than
    STATIC_TIMEOUT_S, HTML only and PNG export is switched off for the rest of the process).
    GROKKIT_STATIC=0 disables static export."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{name}.html"]
    fig.write_html(written[0], include_plotlyjs="directory", full_html=True)
    if static is None:
        static = os.environ.get("GROKKIT_STATIC", "1") not in ("0", "false", "off")
    if static and not _KALEIDO["off"]:
        try:
            _kaleido_server()
            _write_png(fig, out / f"{name}.png", STATIC_TIMEOUT_S)
            written.append(out / f"{name}.png")
        except StaticExportOff as e:
            _KALEIDO["off"] = True
            _static_unavailable(str(e))
        except Exception as e:  # no kaleido / a browser that failed: HTML is enough
            _static_unavailable(type(e).__name__)
    return written


# ---- notebook 02 (circuit efficiency) ----------------------------------------------------------------------
def toy_circuits(history: pd.DataFrame, titles: dict[str, str] | None = None) -> go.Figure:
    """The toy two-circuit model (Varma et al. Table 1): train/test loss and the circuit weights w_G, w_M
    against step, one panel per setting. history: setting, step, train_loss, test_loss, w_G, w_M."""
    names = sorted(history.setting.unique())
    titles = titles or {}
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[f"({n}) {titles.get(n, '')}" for n in names])
    series = (("train_loss", COLORS["train"], "train loss"), ("test_loss", COLORS["test"], "test loss"),
              ("w_G", "#2ca02c", "w_G"), ("w_M", "#9467bd", "w_M"))
    for j, name in enumerate(names, start=1):
        h = history[history.setting == name]
        for col, color, label in series:
            fig.add_trace(go.Scatter(x=h.step, y=h[col], name=label, line=dict(color=color), legendgroup=label,
                                     showlegend=j == 1), row=1, col=j)
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="step")
    fig.update_layout(template="plotly_white", height=380, title="Toy model: losses and circuit weights")
    return fig


def circuit_proxies(history: pd.DataFrame, title: str | None = None) -> go.Figure:
    """A grokking run with circuit proxies (Varma et al. Fig 1a/11): accuracy, the trig and memorisation
    correct-class logits, the parameter norm P. history: one member's tidy history with split 'extra'
    metrics trig_logit, mem_logit_train, mem_logit_test, P."""
    ex = history[history.split == "extra"].pivot_table(index="step", columns="metric", values="value")
    acc = history[history.metric == "acc"].pivot_table(index="step", columns="split", values="value")
    fig = make_subplots(rows=1, cols=3, subplot_titles=["accuracy", "correct-class logit (train)", "parameter norm P"])
    for split in ("train", "test"):
        fig.add_trace(go.Scatter(x=acc.index, y=acc[split], name=f"{split} acc", line=dict(color=COLORS[split])),
                      row=1, col=1)
    for col, c, label in (("trig_logit", "#2ca02c", "trig logit"), ("mem_logit_train", "#9467bd", "mem logit (train)"),
                          ("mem_logit_test", "#8c564b", "mem logit (test)")):
        if col in ex:
            fig.add_trace(go.Scatter(x=ex.index, y=ex[col], name=label, line=dict(color=c)), row=1, col=2)
    if "P" in ex:
        fig.add_trace(go.Scatter(x=ex.index, y=ex["P"], name="P", line=dict(color="black")), row=1, col=3)
    fig.update_xaxes(title_text="step")
    fig.update_layout(template="plotly_white", height=380, title=title)
    return fig


def ungrokking(table: pd.DataFrame, *, levels=(0.5,), size: str = "D'", acc: str = "final_test_acc",
               title: str | None = None) -> go.Figure:
    """Final test accuracy against the reduced dataset size D' (log axis), one line per weight decay (mean
    over seeds, error bars = std), each seed as a faint dot; dotted lines at the accuracy `levels`."""
    fig = go.Figure()
    for i, (wd, g) in enumerate(table.groupby("weight_decay", sort=True)):
        color = _PALETTE[i % len(_PALETTE)]
        m = g.groupby(size)[acc].agg(["mean", "std"]).reset_index().fillna({"std": 0.0})
        fig.add_trace(go.Scatter(x=m[size], y=m["mean"], mode="lines+markers", name=f"wd {wd:g}",
                                 line=dict(color=color), error_y=dict(type="data", array=m["std"])))
        fig.add_trace(go.Scatter(x=g[size], y=g[acc], mode="markers", showlegend=False, opacity=0.35,
                                 marker=dict(color=color, size=5), hoverinfo="skip"))
    for level in levels:
        fig.add_hline(y=level, line=dict(dash="dot", color="grey"))
    fig.update_xaxes(title_text=size, type="log")
    fig.update_yaxes(title_text="final test accuracy", range=[-0.02, 1.02])
    fig.update_layout(title=title, template="plotly_white", height=380, legend_title_text="weight decay")
    return fig


def accuracy_over_time(curves: pd.DataFrame, color: str = "D'", *, y: str = "value", log_x: bool = True,
                       title: str | None = None, y_title: str = "test accuracy") -> go.Figure:
    """Many runs' accuracy against step (Varma et al. Fig 5/8): one thin line per member, coloured by
    `color` (one legend entry per value). curves: step, member, value, <color>."""
    fig = go.Figure()
    for i, (val, g) in enumerate(curves.groupby(color, sort=True)):
        c = _PALETTE[i % len(_PALETTE)]
        for k, (_, m) in enumerate(g.groupby("member", sort=True)):
            m = m.sort_values("step")
            x = np.maximum(m.step.to_numpy(float), 1) if log_x else m.step
            fig.add_trace(go.Scatter(x=x, y=m[y], mode="lines", name=f"{color} {val}", legendgroup=str(val),
                                     showlegend=k == 0, line=dict(color=c, width=1), opacity=0.7))
    fig.update_xaxes(title_text="step", type="log" if log_x else "linear")
    fig.update_yaxes(title_text=y_title, range=[-0.02, 1.02])
    fig.update_layout(title=title, template="plotly_white", height=380)
    return fig


def logit_ratio(table: pd.DataFrame, bucket: str = "P bucket", size: str = "D'",
                title: str | None = None) -> go.Figure:
    """Varma et al. Fig 12: trig/mem correct-class logit ratio (log) and final test accuracy against D',
    coloured by parameter-norm bucket. Rows with a ratio <= 0 are left out of the log panel."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["trig / mem logit ratio (log)", "final test accuracy"])
    pos = table[table.logit_ratio > 0]
    for j, (name, g) in enumerate(pos.sort_values(size).groupby(bucket)):
        c = _PALETTE[j % len(_PALETTE)]
        fig.add_trace(go.Scatter(x=g[size], y=g.logit_ratio, mode="markers", name=str(name), legendgroup=str(name),
                                 marker=dict(color=c)), row=1, col=1)
        fig.add_trace(go.Scatter(x=g[size], y=g.final_test_acc, mode="markers", name=str(name), legendgroup=str(name),
                                 showlegend=False, marker=dict(color=c)), row=1, col=2)
    fig.update_xaxes(type="log", title=size)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(title=title, template="plotly_white", height=380)
    return fig


_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf"]


# ---- notebook 03 (grokked vs learned): figures of tidy tables coloured by the init scale alpha ----------
ALPHA_PALETTE = ["#440154", "#3b528b", "#21918c", "#5ec962", "#a0da39", "#e0c000", "#f98e09", "#d62728"]


def alpha_colours(alphas) -> dict[float, str]:
    """alpha -> colour by rank in the grid (small alpha dark, large alpha red)."""
    grid = sorted({float(a) for a in alphas})
    n = len(ALPHA_PALETTE) - 1
    return {a: ALPHA_PALETTE[round(i * n / max(1, len(grid) - 1))] for i, a in enumerate(grid)}


def scatter_panels(df: pd.DataFrame, x: str, ys: dict[str, str], *, vline: float | None = None,
                   title: str | None = None) -> go.Figure:
    """One scatter panel per column of ys ({column: panel title}) against x, an optional dotted vertical line."""
    fig = make_subplots(rows=1, cols=len(ys), subplot_titles=list(ys.values()))
    for j, col in enumerate(ys, start=1):
        fig.add_trace(go.Scatter(x=df[x], y=df[col], mode="markers", marker=dict(size=3, opacity=0.5),
                                 showlegend=False), row=1, col=j)
        if vline is not None:
            fig.add_vline(x=vline, line=dict(dash="dot"), row=1, col=j)
    fig.update_xaxes(title_text=x)
    fig.update_layout(title=title, height=350, template="plotly_white")
    return fig


def alpha_sweep(curves: pd.DataFrame, members: pd.DataFrame, *, x: str = "epoch", title: str | None = None,
                max_points: int = 300) -> go.Figure:
    """Train (dashed) and test (solid) accuracy of each member against x (log axis), coloured by its alpha.
    curves: member, x, train_acc, test_acc; members: member, alpha (only the members listed are drawn)."""
    colours = alpha_colours(members.alpha)
    fig = go.Figure()
    for m in members.itertuples():
        c = curves[curves.member == m.member].sort_values(x)
        c = c.iloc[:: max(1, len(c) // max_points)]
        for col, dash, split in (("train_acc", "dash", "train"), ("test_acc", "solid", "test")):
            fig.add_trace(go.Scatter(x=np.maximum(c[x], 1), y=c[col], mode="lines", legendgroup=str(m.member),
                                     line=dict(color=colours[float(m.alpha)], dash=dash, width=1.5),
                                     name=f"alpha={m.alpha:g} {split}"))
    fig.update_xaxes(type="log", title_text=x)
    fig.update_yaxes(title_text="accuracy")
    fig.update_layout(title=title, height=400, template="plotly_white")
    return fig


def grouped_bars(panels: list[tuple[pd.DataFrame, str, str]], *, x: tuple[str, str], group: str = "alpha",
                 title: str | None = None) -> go.Figure:
    """Side-by-side panels of bars on a two-level x axis (e.g. layer, feature), one bar colour per group value.
    panels: [(table, y column, panel title)]."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, _, t in panels])
    colours = alpha_colours(pd.concat([df[group] for df, _, _ in panels]))
    for j, (df, y, _) in enumerate(panels, start=1):
        for g, d in df.groupby(group, sort=True):
            fig.add_trace(go.Bar(x=[d[x[0]], d[x[1]]], y=d[y], name=f"{group}={g:g}", legendgroup=str(g),
                                 marker_color=colours[float(g)], showlegend=j == 1), row=1, col=j)
    fig.update_layout(barmode="group", title=title, height=420, template="plotly_white")
    return fig


def histogram_panels(df: pd.DataFrame, value: str, facet: str, group: str = "alpha", *, bins=(0.0, 1.0, 0.025),
                     title: str | None = None) -> go.Figure:
    """Overlaid histograms of `value`, one panel per `facet` value, one colour per `group` value."""
    facets = list(dict.fromkeys(df[facet]))
    fig = make_subplots(rows=1, cols=len(facets), subplot_titles=[str(f) for f in facets])
    colours = alpha_colours(df[group])
    for j, f in enumerate(facets, start=1):
        for g, d in df[df[facet] == f].groupby(group, sort=True):
            fig.add_trace(go.Histogram(x=d[value], xbins=dict(start=bins[0], end=bins[1], size=bins[2]), opacity=0.6,
                                       marker_color=colours[float(g)], name=f"{group}={g:g}", legendgroup=str(g),
                                       showlegend=j == 1), row=1, col=j)
    fig.update_layout(barmode="overlay", title=title, height=350, template="plotly_white")
    fig.update_xaxes(title_text=value, range=[bins[0], bins[1]])
    return fig


def pruning_panels(curves: pd.DataFrame, members: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Left: accuracy against the pruned fraction (curves: member, fraction, acc) of the members listed in
    `members` (member, alpha, final_train_loss, C); right: compressibility C against the final train loss,
    learning (alpha < 1) blue, grokking (alpha > 1) red, every member of `members`."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["test accuracy vs pruned fraction",
                                                        "compressibility vs final train loss"])
    colours = alpha_colours(members.alpha)
    drawn = members.drop_duplicates("alpha")
    for m in drawn.itertuples():
        c = curves[curves.member == m.member].sort_values("fraction")
        fig.add_trace(go.Scatter(x=c.fraction, y=c.acc, mode="lines", name=f"alpha={m.alpha:g}",
                                 line=dict(color=colours[float(m.alpha)])), row=1, col=1)
    for name, col, sel in (("learning (alpha<1)", "#1f77b4", members.alpha < 1),
                           ("grokking (alpha>1)", "#d62728", members.alpha > 1)):
        d = members[sel]
        fig.add_trace(go.Scatter(x=d.final_train_loss, y=d.C, mode="markers+text", name=name,
                                 text=[f"{a:g}" for a in d.alpha], textposition="top center",
                                 marker=dict(color=col, size=9)), row=1, col=2)
    fig.update_xaxes(title_text="pruned fraction f", row=1, col=1)
    fig.update_xaxes(title_text="final train loss", type="log", row=1, col=2)
    fig.update_layout(title=title, height=400, template="plotly_white")
    return fig


def measure_panels(df: pd.DataFrame, measures: list[str], *, x: str = "epoch", group: str = "alpha",
                   cols: int = 3, log_x: bool = True, log_y: tuple[str, ...] = (),
                   title: str | None = None) -> go.Figure:
    """One panel per measure (a column of df) against x, one line per value of `group` (coloured by alpha)."""
    rows = -(-len(measures) // cols)
    fig = make_subplots(rows=rows, cols=min(cols, len(measures)), subplot_titles=measures)
    colours = alpha_colours(df[group]) if len(df) else {}
    for g, d in df.groupby(group, sort=True):
        d = d.sort_values(x)
        for j, y in enumerate(measures):
            fig.add_trace(go.Scatter(x=np.maximum(d[x], 0.5) if log_x else d[x], y=d[y], mode="lines",
                                     line=dict(color=colours[float(g)]), name=f"{group}={g:g}", legendgroup=str(g),
                                     showlegend=j == 0), row=j // cols + 1, col=j % cols + 1)
    for j, y in enumerate(measures):
        if y in log_y:
            fig.update_yaxes(type="log", row=j // cols + 1, col=j % cols + 1)
    fig.update_xaxes(type="log" if log_x else "linear", title_text=x)
    fig.update_layout(title=title, height=350 * rows, template="plotly_white")
    return fig


def faceted_lines(df: pd.DataFrame, x: str, y: str, color: str, facet: str, *, log_x: bool = False,
                  title: str | None = None) -> go.Figure:
    """Lines of y against x, one panel per `facet` value, one line per `color` value (shared legend)."""
    facets = list(dict.fromkeys(df[facet]))
    fig = make_subplots(rows=1, cols=max(1, len(facets)), subplot_titles=[str(f) for f in facets])
    names = list(dict.fromkeys(df[color]))
    for j, f in enumerate(facets, start=1):
        for k, name in enumerate(names):
            d = df[(df[facet] == f) & (df[color] == name)].sort_values(x)
            fig.add_trace(go.Scatter(x=d[x], y=d[y], mode="lines+markers", name=str(name), legendgroup=str(name),
                                     line=dict(color=ALPHA_PALETTE[(2 * k + 1) % len(ALPHA_PALETTE)]),
                                     showlegend=j == 1), row=1, col=j)
    fig.update_xaxes(type="log" if log_x else "linear", title_text=x)
    fig.update_yaxes(title_text=y)
    fig.update_layout(title=title, height=350, template="plotly_white")
    return fig


def med_vs_loss(curves: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Notebook 04: test loss (log), MED and the accuracies of one member against step, side by side.
    curves: one member's wide curves (step, test_loss, extra_med, train_acc, test_acc; extra_med_authors drawn
    dashed beside MED when present)."""
    c = curves.sort_values("step")
    fig = make_subplots(rows=1, cols=3, subplot_titles=["test loss (log)", "MED", "test / train acc"])
    fig.add_trace(go.Scatter(x=c.step, y=c.test_loss, name="test loss", line=dict(color=COLORS["test"])), row=1, col=1)
    fig.add_trace(go.Scatter(x=c.step, y=c.extra_med, name="MED", line=dict(color="#2ca02c")), row=1, col=2)
    if "extra_med_authors" in c and c.extra_med_authors.notna().any():  # the authors' MED (gaps 0..p-3)
        fig.add_trace(go.Scatter(x=c.step, y=c.extra_med_authors, name="MED (authors)",
                                 line=dict(color="#2ca02c", dash="dash")), row=1, col=2)
    for split in ("test", "train"):
        fig.add_trace(go.Scatter(x=c.step, y=c[f"{split}_acc"], name=f"{split} acc",
                                 line=dict(color=COLORS[split], dash="dot")), row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="step")
    fig.update_layout(template="plotly_white", height=360, title=title)
    return fig


def image_row(images, titles=None, title: str | None = None, height: int = 240) -> go.Figure:
    """A row of grey-scale images (n, H, W), each with its subtitle (e.g. notebook 04's shape-sum examples)."""
    images = np.asarray(images)
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=list(titles) if titles is not None else None)
    for j, img in enumerate(images):
        fig.add_trace(go.Heatmap(z=img[::-1], colorscale="gray_r", showscale=False), row=1, col=j + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, template="plotly_white", title=title)
    return fig


# ---- notebook 01 (lottery tickets) -----------------------------------------------------------------
def accuracy_curves(df: pd.DataFrame, title: str | None = None, *, log_x: bool = True, height: int = 380) -> go.Figure:
    """Accuracy against step for several runs: df has columns label, split ('train' dotted / 'test' solid),
    step, value; one colour per label."""
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    for i, (label, g) in enumerate(df.groupby("label", sort=False)):
        for split, dash in (("train", "dot"), ("test", "solid")):
            s = g[g.split == split].sort_values("step")
            if len(s):
                x = np.maximum(s.step.to_numpy(float), 1) if log_x else s.step
                fig.add_trace(go.Scatter(x=x, y=s.value, mode="lines", name=f"{label} {split}",
                                         line=dict(color=palette[i % len(palette)], dash=dash)))
    fig.update_xaxes(type="log" if log_x else "linear", title_text="step")
    fig.update_yaxes(title_text="accuracy")
    fig.update_layout(title=title, template="plotly_white", height=height)
    return fig


def tau_vs_k(sweep: pd.DataFrame, tau: pd.DataFrame, paper: dict | None = None, title: str | None = None) -> go.Figure:
    """tau_grok = t_gen / t_mem against the pruning rate k: one thin line per seed, the median over seeds
    (censored runs counted; a censored median is drawn as an open marker at its lower bound, cap / t_mem) and
    the paper's values (dashed). sweep: seed, k, tau_grok[, tau_bound]; tau: k, tau_median."""
    fig = go.Figure()
    for s, g in sweep.groupby("seed"):
        fig.add_trace(go.Scatter(x=g.k, y=g.tau_grok, mode="lines+markers", name=f"seed {s}", opacity=0.5))
    fin = tau[np.isfinite(tau.tau_median)]
    fig.add_trace(go.Scatter(x=fin.k, y=fin.tau_median, mode="lines+markers", name="median (this run)",
                             line=dict(width=4, color="black")))
    if "tau_bound" in sweep:
        cens = sweep[~np.isfinite(sweep.tau_grok.to_numpy(float))]
        if len(cens):
            fig.add_trace(go.Scatter(x=cens.k, y=cens.tau_bound, mode="markers", name="never generalised (> cap)",
                                     marker=dict(symbol="triangle-up-open", size=11, color="black")))
    if paper:
        fig.add_trace(go.Scatter(x=list(paper), y=list(paper.values()), mode="lines+markers", name="paper",
                                 line=dict(dash="dash", color="gray")))
    fig.update_yaxes(type="log", title_text="tau_grok = t_gen / t_mem")
    fig.update_xaxes(title_text="pruning rate k (fraction removed)")
    fig.update_layout(title=title, template="plotly_white", height=400)
    return fig


def jaccard_vs_acc(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Jaccard distance between masks at t and t + gap (columns jd, jd_<layer>) and the test-accuracy change
    over the same interval (d_test_acc, right axis) against step."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for c in [c for c in df if c.startswith("jd")]:
        fig.add_trace(go.Scatter(x=df.step, y=df[c], name=c, mode="lines", line=dict(width=3 if c == "jd" else 1)))
    fig.add_trace(go.Scatter(x=df.step, y=df.d_test_acc, name="test acc change", mode="lines",
                             line=dict(color="black", dash="dot")), secondary_y=True)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title=title, template="plotly_white", height=400)
    return fig


def metric_grid(df: pd.DataFrame, x: str, metrics, color: str, title: str | None = None,
                height: int = 350) -> go.Figure:
    """Small multiples: one panel per metric column, one line per value of `color`."""
    metrics = list(metrics)
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
    for j, met in enumerate(metrics, start=1):
        for i, (name, g) in enumerate(df.groupby(color, sort=True)):
            g = g.sort_values(x)
            fig.add_trace(go.Scatter(x=g[x], y=g[met], name=str(name), mode="lines+markers", showlegend=j == 1,
                                     legendgroup=str(name), line=dict(color=palette[i % len(palette)])),
                          row=1, col=j)
    fig.update_layout(title=title, template="plotly_white", height=height)
    return fig


def weight_rows(panels: dict, n_rows: int = 3, title: str | None = None) -> go.Figure:
    """Side-by-side panels of the first n_rows rows of 2-d arrays (e.g. the input weights of three neurons)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    for j, arr in enumerate(panels.values(), start=1):
        for i in range(min(n_rows, len(arr))):
            fig.add_trace(go.Scatter(y=np.asarray(arr[i]), mode="lines", showlegend=False), row=1, col=j)
    fig.update_layout(title=title, template="plotly_white", height=300)
    return fig


# ---- notebook 05 (Bayesian tickets) -------------------------------------------------------------------------
def stacked_curves(df: pd.DataFrame, rows, *, group: str = "label", x: str = "step", title: str | None = None,
                   height: int = 900) -> go.Figure:
    """Panels stacked on a shared x axis: rows = [(panel title, [columns], log_y)], one line per (group value,
    column); the first group solid, the others dashed."""
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, subplot_titles=[r[0] for r in rows],
                        vertical_spacing=0.06)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, (name, g) in enumerate(df.groupby(group, sort=False)):
        g = g.sort_values(x)
        for r, (_, cols, log_y) in enumerate(rows, start=1):
            for j, col in enumerate(cols):
                fig.add_trace(go.Scatter(x=g[x], y=g[col], name=f"{name}: {col}", legendgroup=str(name), mode="lines",
                                         line=dict(color=palette[(j + 2 * (r - 1)) % len(palette)],
                                                   dash="dash" if i else "solid")), row=r, col=1)
            if log_y:
                fig.update_yaxes(type="log", row=r, col=1)
    fig.update_xaxes(title_text=x, row=len(rows), col=1)
    fig.update_layout(height=height, title=title, template="plotly_white")
    return fig


def table_heatmap(table: pd.DataFrame, title: str | None = None, zmin: float = 0.0, zmax: float = 1.0,
                  height: int = 400) -> go.Figure:
    """A DataFrame (index = rows, columns = columns) as an annotated heatmap."""
    z = table.to_numpy(float)
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in table.columns], y=[str(i) for i in table.index], zmin=zmin,
                               zmax=zmax, colorscale="Viridis", text=np.round(z, 3), texttemplate="%{text}"))
    fig.update_layout(title=title, height=height, template="plotly_white")
    return fig


def lambda_law(curves: pd.DataFrame, table: pd.DataFrame, law: dict, cap: float, title: str | None = None
               ) -> go.Figure:
    """Left: test accuracy per lambda (curves: lam, step, test_acc). Right: grokking step vs 1/lambda, log-log
    (table: lam, t_gen; never-grokked members as open markers at the cap) with the fit c / lambda + floor."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["test accuracy", "grokking step vs 1/lambda"])
    for lam, g in curves.groupby("lam", sort=True):
        g = g.sort_values("step")
        fig.add_trace(go.Scatter(x=g.step, y=g.test_acc, name=f"lambda={lam:g}", mode="lines"), row=1, col=1)
    t = table.t_gen.to_numpy(float)
    ok, cens = table[np.isfinite(t)], table[~np.isfinite(t)]
    fig.add_trace(go.Scatter(x=1 / ok.lam, y=ok.t_gen, mode="markers", name="grokked", marker=dict(size=10)),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=1 / cens.lam, y=[cap] * len(cens), mode="markers", name="not grokked (> cap)",
                             marker=dict(size=10, symbol="circle-open")), row=1, col=2)
    if np.isfinite(law.get("c", np.nan)) and len(table):
        xs = np.geomspace((1 / table.lam).min(), (1 / table.lam).max(), 50)
        fig.add_trace(go.Scatter(x=xs, y=law["c"] * xs + law["floor"], name="fit c/lambda + floor",
                                 line=dict(dash="dot")), row=1, col=2)
    fig.update_xaxes(type="log", row=1, col=2, title_text="1/lambda")
    fig.update_yaxes(type="log", row=1, col=2, title_text="grokking step")
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_layout(height=450, title=title, template="plotly_white")
    return fig


def censored_bars(df: pd.DataFrame, x: str, columns, cap: float, title: str | None = None,
                  y_title: str = "grokking step", log_y: bool = False) -> go.Figure:
    """Grouped bars of times, one bar per column and x value; NaN (never crossed) drawn at the cap, hatched.
    log_y: a log time axis (times that differ by orders of magnitude stay visible)."""
    fig = go.Figure()
    palette = ["#7f7f7f", "#ff7f0e", "#1f77b4", "#2ca02c", "#d62728"]
    for i, col in enumerate(columns):
        v = df[col].to_numpy(float)
        fig.add_trace(go.Bar(x=[str(a) for a in df[x]], y=np.where(np.isfinite(v), v, cap), name=col,
                             marker_color=palette[i % len(palette)],
                             marker_pattern_shape=["" if np.isfinite(a) else "/" for a in v]))
    fig.update_layout(barmode="group", title=title, yaxis_title=f"{y_title} (hatched: > {cap:g}, never)",
                      xaxis_title=x, template="plotly_white", height=400)
    if log_y:
        fig.update_yaxes(type="log")
    return fig
