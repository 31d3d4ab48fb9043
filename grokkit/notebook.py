"""Notebook plumbing shared by every grokkit notebook: parameters, sections, claims tables, results.json.

    PARAMS = nb.Params("00_quickstart", nb.Param("p", int, "prime modulus", ci=97, default=67, check=nb.prime))
    S = PARAMS.resolve(globals())                  # validated settings (grokkit.params)

    @nb.section("train", knobs=["p"])               # a section: settings -> data (grokkit.results)
    def train(S) -> nb.Result: ...
    R = train(S)                                   # computes, or replays a saved result (source=...)
    claims = nb.Claims(); claims.extend(train_claims(R), R)
    train.panel(S, draw=..., claims=train_claims)  # its control panel (grokkit.widgets)

Parameters cell convention (papermill tag `parameters`): every knob defaults to None ("take the
profile's value"); `profile` defaults to $GROKKIT_PROFILE or "demo", `source` to $GROKKIT_SOURCE or "run".
Papermill injects explicit values after that cell. `settings()` is the older form (a PROFILES table merged
with what was passed), kept for notebooks not yet converted to `Params`.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import validate
from .params import (
    Check,
    Param,
    Params,
    Settings,
    default_profile,
    positive,
    prime,
    shipped_bundles,
)
from .results import Result, Section, run_sections, section

__all__ = [
    "Check", "Claims", "NOT_AT_SCALE", "Param", "Params", "Result", "Section", "Settings", "claim",
    "default_profile", "median_spread", "positive", "prime", "run_sections", "section", "settings", "shipped_bundles",
    "static_export",
]


def settings(notebook: str, profile: str, profiles: dict[str, dict[str, Any]], *,
             output_dir: str | os.PathLike | None = None, checks: dict[str, Any] | None = None,
             **passed: Any) -> Settings:
    """Profile defaults overridden by every explicitly passed (non-None) parameter.

    profiles: {"ci": {...}, "demo": {...}, "paper": {...}} with the same keys in each.
    checks:   {name: callable(value) -> value (raise ValueError)} run on the merged values.
    Unknown parameter names (not in the profile table) are an error too.
    """
    validate.choice("profile", profile, tuple(profiles))
    base = dict(profiles[profile])
    unknown = [k for k in passed if k not in base and k not in ("seed", "device")]
    if unknown:
        raise ValueError(f"unknown parameters {unknown}; this notebook takes {sorted(base)}")
    merged = {**base, **{k: v for k, v in passed.items() if v is not None}}
    for name, check in (checks or {}).items():
        if name in merged and merged[name] is not None:
            out = check(merged[name])
            if out is not None:
                merged[name] = out
    out_root = Path(output_dir) if output_dir else Path(os.environ.get("GROKKIT_OUTPUT", "out")) / notebook / profile
    out_root.mkdir(parents=True, exist_ok=True)
    s = Settings(profile=profile, **merged)
    s["output_dir"] = out_root
    return s


# ---- claims ------------------------------------------------------------------------------
NOT_AT_SCALE = "not at this scale"


def claim(text: str, paper: Any, measured: Any, holds: bool | str, *, checked: bool = False) -> dict[str, Any]:
    """One claims-table row (what a section's claims function returns a list of)."""
    if isinstance(holds, np.bool_):
        holds = bool(holds)
    if holds is not True and holds is not False and holds != NOT_AT_SCALE:
        raise ValueError(f"holds must be True, False or {NOT_AT_SCALE!r}, not {holds!r}")
    return {"claim": text, "paper": _jsonable(paper), "measured": _jsonable(measured), "holds": holds,
            "checked": bool(checked)}


_row = claim


@dataclass
class Claims:
    """A paper-vs-this-run table. holds: True, False or "not at this scale".
    `checked=True` marks claims the ci profile can test: `assert_checked()` raises if one fails.
    Rows added with `extend(rows, R)` carry their section and its scale (the profile R was computed at);
    sections replayed with other settings than the notebook's are listed as stale."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)

    def add(self, claim: str, paper: Any, measured: Any, holds: bool | str, *, checked: bool = False,
            section: str | None = None, scale: str | None = None) -> bool | str:
        row = _row(claim, paper, measured, holds, checked=checked)
        self.rows.append({**row, "section": section, "scale": scale})
        return row["holds"]

    def extend(self, rows: list[dict[str, Any]], result: Result | None = None) -> list[dict[str, Any]]:
        """Add rows made by `nb.claim` (a section's claims function), tagged with the result's section/scale."""
        name = result.section if result is not None else None
        scale = result.scale if result is not None else None
        for r in rows:
            if not isinstance(r, dict) or not {"claim", "paper", "measured", "holds"} <= set(r):
                raise TypeError(f"a claims row is a dict made by nb.claim(...), not {r!r}")
            self.add(r["claim"], r["paper"], r["measured"], r["holds"], checked=r.get("checked", False),
                     section=name, scale=scale)
        if result is not None and result.stale:
            self.stale[name] = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in result.stale.items())
        return rows

    def _has_sections(self) -> bool:
        return any(r.get("section") for r in self.rows)

    def table(self) -> pd.DataFrame:
        cols = ["claim", "paper", "measured", "holds", "checked"]
        if self._has_sections():
            cols = ["section", *cols, "scale"]
        return pd.DataFrame(self.rows, columns=cols)

    def _repr_html_(self):
        df = self.table().copy()
        colour = {True: "#d4f4dd", False: "#f8d7da"}
        styler = df.style.apply(lambda r: [f"background-color: {colour.get(r.holds, '#fff3cd')}"] * len(r), axis=1)
        html = styler.hide(axis="index").to_html()
        if self.stale:
            items = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in self.stale.items())
            html = (f"<p style='color:#8a6d3b'>Stale sections (replayed as saved, made with other settings):"
                    f"<ul>{items}</ul></p>") + html
        return html

    def failed_checks(self) -> list[dict]:
        return [r for r in self.rows if r["checked"] and r["holds"] is not True]

    def assert_checked(self, profile: str | None = None) -> None:
        """Raise if a checked claim does not hold: in the ci profile (the test suite's contract) or when no profile
        is given. In demo / paper a claim that fails is a finding, reported in the table: printed, not raised."""
        bad = self.failed_checks()
        if bad:
            lines = "\n".join(f"- {r['claim']}: paper {r['paper']}, measured {r['measured']}" for r in bad)
            if profile in (None, "ci"):
                raise AssertionError(f"{len(bad)} checked claim(s) do not hold at this scale:\n{lines}")
            print(f"{len(bad)} checked claim(s) do not hold in profile {profile!r} (reported, not asserted):\n{lines}")

    def save(self, output_dir: str | os.PathLike, **extra: Any) -> Path:
        """results.json: {"claims": [{claim, paper, measured, holds[, section, scale]}], "stale_sections": {...}
        when any, **extra}."""
        path = Path(output_dir) / "results.json"
        keys = ("claim", "paper", "measured", "holds") + (("section", "scale") if self._has_sections() else ())
        payload = {"claims": [{k: r.get(k) for k in keys} for r in self.rows],
                   **({"stale_sections": dict(self.stale)} if self.stale else {}),
                   **{k: _jsonable(v) for k, v in extra.items()}}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, allow_nan=False, default=str))
        os.replace(tmp, path)
        return path


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, pd.DataFrame):
        return [_jsonable(r) for r in v.to_dict("records")]
    if isinstance(v, Path):
        return str(v)
    return v


# ---- small statistics helpers used in claims tables -----------------------------------------
def static_export(S: Settings) -> bool | None:
    """`static=` for plots.export: None (PNG when an exporter is present) when this run computes sections at demo or
    paper scale (source "run", or sections named in $GROKKIT_RUN_SECTIONS); False (HTML only) for a plain replay,
    which has seconds for every figure, and for the ci profile."""
    return None if (S.get("source", "run") == "run" or run_sections()) and S.profile != "ci" else False


def median_spread(values) -> str:
    """'median [min, max] (n=K)' of the finite values, or 'none (n=K)'."""
    arr = np.asarray([v for v in values], dtype=float)
    ok = arr[np.isfinite(arr)]
    if not len(ok):
        return f"none of {len(arr)}"
    return f"{np.median(ok):.4g} [{ok.min():.4g}, {ok.max():.4g}] ({len(ok)}/{len(arr)})"
