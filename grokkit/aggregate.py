"""Aggregate a notebook sweep: claims over the grid, section tables concatenated, a report page.

    aggregate("out/sweep/00_quickstart-ci")      # reads sweep.json + points/<point>/ (written by grokkit sweep)
    aggregate_runs(runs, axes, "DIR/aggregate")  # runs: [(grid values, the run's output_dir), ...]

Writes DIR/aggregate/:
- results.json: per claim (section + text) how many runs hold / fail / are "not at this scale" / lack it; the
  numbers in its measured values as median [min, max] over the grid (censored '> cap' values are counted, never
  dropped: they rank after every measured value, so a median that lands on one reads '> bound'); per section,
  the tables written; the failed runs with their errors.
- runs.parquet: one row per grid point (grid columns, status, the numeric scalars of its results.json).
- <section>/<table>.parquet: the section's table of every run, concatenated, with the grid columns and `point`
  added (a grid column whose name the table already uses is added as grid_<name>); <section>/scalars.parquet:
  the section's numeric scalars per run; <section>/<array>.npy: arrays of one shape stacked (run axis first).
- report.html: the claims table, failures and figures across seeds (offline: plotly.min.js beside it).
"""
from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "grokkit.sweep-aggregate/1"
NOT_AT_SCALE = "not at this scale"
_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d.])|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"(?P<name>[A-Za-z_][\w'/]*)\s*(?P<op>>=|<=|=|>|<|≈|~)\s*(?P<num>{_NUM})")
_TOP_SKIP = {"claims", "settings", "profile", "stale_sections"}

# Figures across the grid for notebooks whose tables show a curve: (section, table, x, y, rows to keep, title,
# axis types). The band spans the seeds (median, min-max); one band per combination of the other grid columns.
BANDS: dict[str, list[dict[str, Any]]] = {
    "00_quickstart": [dict(section="train", table="curves", x="step", y="value",
                           where={"split": "test", "metric": "acc"}, title="test accuracy over training",
                           log_x=True)],
    "01_lottery_tickets": [dict(section="sweep", table="tau", x="k", y="tau_median",
                                title="tau_grok (median over the notebook's seeds) vs pruning rate k", log_y=True)],
}


# ---- measured values --------------------------------------------------------------------------------------------
def parse_measured(v: Any) -> dict[str, tuple[float, str]]:
    """The numbers in a claim's measured value: {name: (number, op)}.

    A number -> {'value': (x, '=')}; a numeric string -> the same; 'name=x' / 'name > x' pairs in a string ->
    one entry per name (op '>' or '<' marks a censored bound, e.g. 't_gen > 300'). Other values -> {}."""
    if isinstance(v, bool) or v is None:
        return {}
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        return {"value": (x, "=")} if not math.isnan(x) else {}
    if not isinstance(v, str):
        return {}
    s = v.strip()
    try:
        return {"value": (float(s.replace(",", "")) if re.fullmatch(_NUM, s) else float(s), "=")}
    except ValueError:
        pass
    out: dict[str, tuple[float, str]] = {}
    for m in _PAIR.finditer(s):
        op = m["op"]
        op = "=" if op in ("≈", "~") else op.rstrip("=") or "="
        out.setdefault(m["name"], (float(m["num"].replace(",", "")), op))
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def censored_stats(values: Sequence[tuple[float, str]]) -> dict[str, Any]:
    """median [min, max] of (number, op) values where op '>' is a lower bound ('> cap') and '<' an upper bound.
    Lower bounds rank after every exact value and upper bounds before, so none is dropped; a median or an
    extreme that lands on a bound is reported as that bound (median_op '>' / '<')."""
    exact = sorted(x for x, op in values if op == "=" and math.isfinite(x))
    above = sorted(x for x, op in values if op == ">" or (op == "=" and x == math.inf))
    below = sorted(x for x, op in values if op == "<" or (op == "=" and x == -math.inf))
    order = [(x, "<") for x in below] + [(x, "=") for x in exact] + [(x, ">") for x in above]
    n = len(order)
    out: dict[str, Any] = {"n": n, "n_exact": len(exact), "n_above": len(above), "n_below": len(below)}
    if not n:
        return {**out, "median": None, "median_op": None, "min": None, "min_op": None, "max": None, "max_op": None,
                "text": "none"}
    mids = [order[(n - 1) // 2], order[n // 2]]
    if all(op == "=" for _, op in mids):
        med, med_op = (mids[0][0] + mids[1][0]) / 2, "="
    elif any(op == ">" for _, op in mids):  # the median is above the smallest lower bound involved
        med, med_op = min(x for x, op in mids if op == ">"), ">"
    else:
        med, med_op = max(x for x, op in mids if op == "<"), "<"
    lo, lo_op = order[0]
    hi, hi_op = order[-1]

    def show(x, op):
        return _fmt(x) if op == "=" else f"{op} {_fmt(x)}"

    text = f"{show(med, med_op)} [{show(lo, lo_op)}, {show(hi, hi_op)}] (n={n}"
    if above or below:
        text += f"; {len(above) + len(below)} censored"
    return {**out, "median": med, "median_op": med_op, "min": lo, "min_op": lo_op, "max": hi, "max_op": hi_op,
            "text": text + ")"}


# ---- claims ------------------------------------------------------------------------------------------------------
def _holds_kind(h: Any) -> str:
    if h is True:
        return "hold"
    if h is False:
        return "fail"
    if isinstance(h, str) and h == NOT_AT_SCALE:
        return "not_at_scale"
    return "other"


def claims_summary(per_run: Sequence[tuple[str, Sequence[Mapping[str, Any]] | None]]) -> list[dict[str, Any]]:
    """per_run: [(point name, its results.json claims or None when it wrote none)]. One entry per claim (section
    + text, in order of first appearance): hold / fail / not_at_scale / absent counts over the runs, the paper's
    value(s), the measured values per point and their numbers as median [min, max]."""
    keys: list[tuple[str, str]] = []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    n_runs = len(per_run)
    for point, claims in per_run:
        for c in claims or []:
            key = (str(c.get("section") or ""), str(c.get("claim")))
            if key not in rows:
                keys.append(key)
                rows[key] = {"claim": key[1], "section": key[0] or None, "paper": [], "scale": [], "n_runs": n_runs,
                             "hold": 0, "fail": 0, "not_at_scale": 0, "other": 0, "per_point": {}}
            r = rows[key]
            r[_holds_kind(c.get("holds"))] += 1
            for field in ("paper", "scale"):
                v = c.get(field)
                if v is not None and v not in r[field]:
                    r[field].append(v)
            r["per_point"][point] = {"holds": c.get("holds"), "measured": c.get("measured")}
    out = []
    for key in keys:
        r = rows[key]
        seen = len(r["per_point"])
        r["absent"] = n_runs - seen
        numbers: dict[str, list[tuple[float, str]]] = {}
        for v in r["per_point"].values():
            for name, xo in parse_measured(v["measured"]).items():
                numbers.setdefault(name, []).append(xo)
        r["measured"] = {name: censored_stats(vals) for name, vals in numbers.items()}
        r["measured_text"] = "; ".join(f"{name}: {st['text']}" if name != "value" else st["text"]
                                       for name, st in r["measured"].items())
        r["summary"] = f"{r['hold']}/{seen} hold" + (f", {r['fail']} fail" if r["fail"] else "") + \
            (f", {r['not_at_scale']} not at this scale" if r["not_at_scale"] else "") + \
            (f", absent from {r['absent']}" if r["absent"] else "")
        r["paper"] = r["paper"][0] if len(r["paper"]) == 1 else r["paper"]
        if not r["other"]:
            del r["other"]
        out.append(r)
    return out


# ---- section tables ----------------------------------------------------------------------------------------------
def _with_grid(df: pd.DataFrame, point: str, values: Mapping[str, Any]) -> pd.DataFrame:
    df = df.copy()
    front = {}
    for k, v in values.items():
        col = f"grid_{k}" if k in df.columns else k
        front[col] = json.dumps(v) if isinstance(v, (list, dict)) else v
    front["point"] = point
    for i, (col, v) in enumerate(front.items()):
        df.insert(i, col, [v] * len(df))
    return df


def _scalar_row(values: Mapping[str, Any]) -> dict[str, float]:
    row = {}
    for k, v in values.items():
        if isinstance(v, bool):
            row[k] = float(v)
        elif isinstance(v, (int, float)):
            row[k] = float(v)
        elif isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
            row[k] = float(v.replace("Infinity", "inf"))
    return row


def aggregate_sections(runs: Sequence[tuple[str, Mapping[str, Any], Path]], dest: Path) -> dict[str, Any]:
    """Concatenate every section's tables over the runs (grid columns added), their numeric scalars into
    scalars.parquet and same-shape arrays into stacked .npy files under dest/<section>/. Returns what was
    written: {section: {"tables": {name: {"path", "rows", "runs"}}, "scalars": ..., "arrays": ...}}."""
    found: dict[str, list[tuple[str, Mapping[str, Any], dict]]] = {}
    for point, values, out_dir in runs:
        res = Path(out_dir) / "results"
        if not res.is_dir():
            continue
        for sec in sorted(d for d in res.iterdir() if (d / "result.json").is_file()):
            try:
                doc = json.loads((sec / "result.json").read_text())
            except (OSError, ValueError):
                continue
            found.setdefault(sec.name, []).append((point, values, {**doc, "_dir": sec}))
    index: dict[str, Any] = {}
    for section, items in found.items():
        sdir = dest / section
        sdir.mkdir(parents=True, exist_ok=True)
        entry: dict[str, Any] = {"runs": len(items), "tables": {}, "arrays": {}}
        names = []
        for _, _, doc in items:
            names += [n for n in doc.get("tables", {}) if n not in names]
        for name in names:
            parts = []
            for point, values, doc in items:
                f = doc.get("tables", {}).get(name)
                if f:
                    parts.append(_with_grid(pd.read_parquet(doc["_dir"] / f, engine="pyarrow"), point, values))
            table = pd.concat(parts, ignore_index=True)
            path = sdir / f"{name}.parquet"
            table.to_parquet(path, engine="pyarrow", index=False)
            entry["tables"][name] = {"path": str(path.relative_to(dest)), "rows": len(table), "runs": len(parts)}
        scal = [{**_with_grid(pd.DataFrame([{}]), point, values).iloc[0].to_dict(),
                 **_scalar_row(doc.get("values", {}))} for point, values, doc in items]
        if scal:
            path = sdir / "scalars.parquet"
            pd.DataFrame(scal).to_parquet(path, engine="pyarrow", index=False)
            entry["scalars"] = str(path.relative_to(dest))
        anames = []
        for _, _, doc in items:
            anames += [n for n in doc.get("arrays", {}) if n not in anames]
        for name in anames:
            arrs = [(point, np.load(doc["_dir"] / doc["arrays"][name], allow_pickle=False))
                    for point, _, doc in items if name in doc.get("arrays", {})]
            if len({a.shape for _, a in arrs}) == 1 and len({a.dtype for _, a in arrs}) == 1:
                path = sdir / f"{name}.npy"
                np.save(path, np.stack([a for _, a in arrs]), allow_pickle=False)
                entry["arrays"][name] = {"path": str(path.relative_to(dest)), "points": [p for p, _ in arrs]}
            else:
                entry["arrays"][name] = {"skipped": "shapes differ between runs"}
        index[section] = entry
    return index


# ---- the whole aggregate -----------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def aggregate_runs(runs: Sequence[tuple], axes: Iterable[str] | None = None,
                   dest: str | os.PathLike = "aggregate", *, notebook: str | None = None, profile: str | None = None,
                   status: Mapping[str, Mapping[str, Any]] | None = None, meta: Mapping[str, Any] | None = None,
                   report: bool = True) -> Path:
    """Aggregate runs given as [(grid values, the run's output_dir[, point name])] into dest/ (see the module
    docstring); the point name defaults to dask_sweep.point_name(values).
    status: {point: {"status", "error", ...}} from the sweep (default: 'ok' where results.json exists)."""
    from .dask_sweep import point_name

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    axes = list(axes) if axes is not None else sorted({k for v, _ in runs for k in v})
    items = []
    for run in runs:
        values, out_dir = run[0], run[1]
        values = {k: values[k] for k in axes if k in values}
        point = run[2] if len(run) > 2 else point_name(values)
        items.append((point, values, Path(out_dir)))
    docs = {point: _read_json(d / "results.json") for point, _, d in items}
    status = dict(status or {})
    run_rows = []
    for point, values, _ in items:
        doc = docs[point]
        st = dict(status.get(point) or {"status": "ok" if doc is not None else "failed",
                                         "error": None if doc is not None else "no results.json"})
        row = {**{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in values.items()},
               "point": point, "status": st.get("status"), "error": st.get("error"),
               "wall_s": st.get("wall_s"), "has_results": doc is not None}
        for k, v in (doc or {}).items():
            if k not in _TOP_SKIP and k not in row and (v is None or isinstance(v, (int, float))):
                row[k] = float("nan") if v is None else float(v)
        run_rows.append(row)
    runs_df = pd.DataFrame(run_rows)
    runs_df.to_parquet(dest / "runs.parquet", engine="pyarrow", index=False)
    claims = claims_summary([(p, (docs[p] or {}).get("claims") if docs[p] is not None else None)
                             for p, _, _ in items])
    sections = aggregate_sections(items, dest)
    failures = [{"point": r["point"], "notebook": notebook, "status": r["status"], "error": r["error"]}
                for r in run_rows if r["status"] != "ok"]
    numeric = {c: censored_stats([(x, "=") for x in runs_df[c].to_numpy(float) if not math.isnan(x)])
               for c in runs_df.columns if c not in ("point", "wall_s", *axes) and
               pd.api.types.is_float_dtype(runs_df[c])}
    doc = {"format": FORMAT, "notebook": notebook, "profile": profile, "axes": axes, **dict(meta or {}),
           "n_runs": len(items), "n_ok": int(sum(r["status"] == "ok" for r in run_rows)),
           "n_with_results": int(sum(r["has_results"] for r in run_rows)),
           "status_counts": {k: int(v) for k, v in runs_df["status"].value_counts().items()} if len(runs_df) else {},
           "claims": claims, "run_measures": numeric, "sections": sections, "failures": failures,
           "runs_table": "runs.parquet"}
    path = dest / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
    if report:
        write_report(dest, doc, runs_df)
    return path


def aggregate(sweep_dir: str | os.PathLike, *, report: bool = True) -> Path:
    """Aggregate a sweep folder written by `grokkit sweep` (sweep.json + points/) into sweep_dir/aggregate/."""
    from .dask_sweep import MANIFEST

    sweep_dir = Path(sweep_dir)
    man = _read_json(sweep_dir / MANIFEST)
    if man is None:
        raise FileNotFoundError(f"{sweep_dir / MANIFEST} is missing or unreadable: not a grokkit sweep folder")
    axes = list(man.get("axes", {}))
    runs = [({k: p[k] for k in axes if k in p}, p["output_dir"], p["point"]) for p in man["points"]]
    status = {p["point"]: p for p in man["points"]}
    meta = {"grid": man.get("axes"), "params": man.get("params"), "cluster": man.get("cluster"),
            "wall_s": man.get("wall_s")}
    return aggregate_runs(runs, axes, sweep_dir / "aggregate", notebook=man.get("notebook"),
                          profile=man.get("profile"), status=status, meta=meta, report=report)


def _clean(v: Any) -> Any:
    """Strict JSON: non-finite floats as the strings 'NaN' / 'Infinity' / '-Infinity' (as grokkit.results)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    if isinstance(v, Path):
        return str(v)
    return v


# ---- figures -----------------------------------------------------------------------------------------------------
def band(table: pd.DataFrame, x: str, y: str, *, over: str = "seed", by: Sequence[str] = ()) -> pd.DataFrame:
    """Per x (and per `by` group): median, min and max of y over the values of `over` (e.g. the seeds); n counts
    the runs, n_finite those with a finite y (censored values, stored as inf / NaN, are counted in n)."""
    rows = []
    keys = [*by, x]
    for key, g in table.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        vals = g[y].to_numpy(float)
        fin = vals[np.isfinite(vals)]
        rows.append({**dict(zip(keys, key)), "median": float(np.median(fin)) if len(fin) else math.nan,
                     "min": float(fin.min()) if len(fin) else math.nan,
                     "max": float(fin.max()) if len(fin) else math.nan,
                     "n": int(g[over].nunique()) if over in g else len(g), "n_finite": int(len(fin))})
    return pd.DataFrame(rows)


def band_figure(b: pd.DataFrame, x: str, *, by: Sequence[str] = (), title: str = "", y_title: str = "",
                over: str = "seed", log_x: bool = False, log_y: bool = False):
    import plotly.graph_objects as go

    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    groups = b.groupby(list(by), sort=True) if by else [((), b)]
    for i, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(by, key)) or "all runs"
        c = palette[i % len(palette)]
        g = g.sort_values(x)
        g = g[np.isfinite(g["median"].to_numpy(float))]
        fig.add_trace(go.Scatter(x=g[x], y=g["max"], mode="lines", line=dict(width=0, color=c), showlegend=False,
                                 hoverinfo="skip", legendgroup=label))
        rgb = tuple(int(c[j:j + 2], 16) for j in (1, 3, 5))
        fig.add_trace(go.Scatter(x=g[x], y=g["min"], mode="lines", line=dict(width=0, color=c), fill="tonexty",
                                 fillcolor=f"rgba({rgb[0]},{rgb[1]},{rgb[2]},0.2)", legendgroup=label,
                                 name=f"{label}: min-max over {over}", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=g[x], y=g["median"], mode="lines+markers" if len(g) < 40 else "lines",
                                 line=dict(color=c, width=2), name=f"{label}: median (n={int(g['n'].max())})",
                                 legendgroup=label, customdata=g[["n_finite", "n"]],
                                 hovertemplate="%{y:.4g} (finite in %{customdata[0]} of %{customdata[1]})"))
    fig.update_xaxes(title_text=x, type="log" if log_x else None)
    fig.update_yaxes(title_text=y_title, type="log" if log_y else None)
    fig.update_layout(title=title, template="plotly_white", height=420)
    return fig


def strip_figure(runs: pd.DataFrame, measure: str, x: str, color: str | None = None, title: str = ""):
    """One marker per run: measure against a grid column (e.g. final test accuracy per seed)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    groups = runs.groupby(color, sort=True) if color else [(None, runs)]
    for key, g in groups:
        fig.add_trace(go.Scatter(x=g[x], y=g[measure], mode="markers", marker=dict(size=10),
                                 name=f"{color}={key}" if color else measure, text=g["point"],
                                 hovertemplate="%{text}: %{y:.4g}"))
    fig.update_xaxes(title_text=x, type="category" if pd.api.types.is_integer_dtype(runs[x]) else None)
    fig.update_yaxes(title_text=measure)
    fig.update_layout(title=title or f"{measure} per run", template="plotly_white", height=340)
    return fig


def figures(doc: Mapping[str, Any], runs: pd.DataFrame, dest: Path) -> list[tuple[str, Any]]:
    """The report's figures: the notebook's BANDS recipes (a band over seeds) and a strip per run-level measure."""
    axes = list(doc.get("axes") or [])
    over = "seed" if "seed" in axes else (axes[0] if axes else "point")
    by = [a for a in axes if a != over]
    out = []
    for r in BANDS.get(doc.get("notebook") or "", []):
        path = dest / r["section"] / f"{r['table']}.parquet"
        if not path.exists():
            continue
        t = pd.read_parquet(path, engine="pyarrow")
        for k, v in r.get("where", {}).items():
            if k in t:
                t = t[t[k] == v]
        gcols = [f"grid_{a}" if f"grid_{a}" in t else a for a in by]
        ocol = f"grid_{over}" if f"grid_{over}" in t else (over if over in t else "point")
        # one value per run and x first (a run's table may hold several members): their median
        per_run = t.groupby(["point", *gcols, r["x"]], dropna=False)[r["y"]].median().reset_index()
        per_run[ocol] = per_run["point"] if ocol == "point" else \
            per_run["point"].map(t.drop_duplicates("point").set_index("point")[ocol])
        b = band(per_run, r["x"], r["y"], over=ocol, by=gcols)
        out.append((r["title"], band_figure(b, r["x"], by=gcols, title=f"{r['title']}: median and min-max over {over}",
                                            y_title=r["y"], over=over, log_x=r.get("log_x", False),
                                            log_y=r.get("log_y", False))))
    ok = runs[runs["has_results"]] if "has_results" in runs else runs
    measures = [c for c in ok.columns if c not in ("point", "wall_s", "status", "error", "has_results", *axes)
                and pd.api.types.is_float_dtype(ok[c]) and ok[c].notna().any()]
    x = over if over in ok else "point"
    for m in measures[:6]:
        out.append((m, strip_figure(ok, m, x, color=by[0] if by else None, title=f"{m} per run (x: {x})")))
    return out


def write_report(dest: Path, doc: Mapping[str, Any], runs: pd.DataFrame) -> Path:
    """dest/report.html: settings, claims over the grid, failures, figures (plotly.min.js beside it: offline)."""
    import plotly.offline

    esc = lambda v: html.escape(str(v))  # noqa: E731
    parts = [f"<h1>Sweep of {esc(doc.get('notebook'))} (profile {esc(doc.get('profile'))})</h1>",
             f"<p>grid: {esc(json.dumps(doc.get('grid') or doc.get('axes')))}; fixed parameters: "
             f"{esc(json.dumps(doc.get('params') or {}))}; {doc['n_runs']} runs, {doc['n_ok']} ok, "
             f"{doc['n_with_results']} with results; status: {esc(doc.get('status_counts'))}</p>",
             "<h2>Claims over the grid</h2>",
             "<table><tr><th>section</th><th>claim</th><th>paper</th><th>hold</th><th>fail</th>"
             "<th>not at this scale</th><th>absent</th><th>measured: median [min, max]</th></tr>"]
    for c in doc["claims"]:
        parts.append(f"<tr><td>{esc(c['section'] or '')}</td><td>{esc(c['claim'])}</td><td>{esc(c['paper'])}</td>"
                     f"<td>{c['hold']}</td><td>{c['fail']}</td><td>{c['not_at_scale']}</td><td>{c['absent']}</td>"
                     f"<td>{esc(c['measured_text'])}</td></tr>")
    parts.append("</table>")
    if doc.get("failures"):
        parts.append("<h2>Runs that did not finish cleanly</h2><ul>")
        parts += [f"<li>{esc(f['point'])}: {esc(f['status'])}: {esc(f['error'])}</li>" for f in doc["failures"]]
        parts.append("</ul>")
    figs = figures(doc, runs, dest)
    if figs:
        parts.append("<h2>Across the grid</h2>")
        for _, fig in figs:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    shown = runs.astype(object).where(runs.notna(), "")
    parts.append("<h2>Runs</h2>" + shown.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    sec = doc.get("sections") or {}
    if sec:
        parts.append("<h2>Section tables (Parquet, grid columns added)</h2><ul>")
        for s, e in sec.items():
            files = [t["path"] for t in e["tables"].values()] + ([e["scalars"]] if e.get("scalars") else [])
            parts.append(f"<li>{esc(s)}: {esc(', '.join(files))}</li>")
        parts.append("</ul>")
    js = dest / "plotly.min.js"
    if not js.exists():
        js.write_text(plotly.offline.get_plotlyjs())
    style = ("body{font-family:sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;font-size:90%}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>grokkit sweep: {esc(doc.get('notebook'))}"
            f"</title><script src='plotly.min.js'></script><style>{style}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    path = dest / "report.html"
    path.write_text(page)
    return path
