"""Notebook plumbing shared by every grokkit notebook: profiles + parameters, claims tables,
results.json, figure export.

Parameters cell convention (papermill tag `parameters`): every knob defaults to None ("take the
profile's value"); `profile` defaults to $GROKKIT_PROFILE or "demo". Papermill injects explicit values
after that cell; `settings()` merges profile defaults with what was passed and validates it.
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


def default_profile() -> str:
    return os.environ.get("GROKKIT_PROFILE", "demo")


class Settings(dict):
    """The resolved parameters of a notebook run: attribute access, a printable table."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"parameter": list(self), "value": [repr(v) for v in self.values()]})

    def _repr_html_(self):
        return self.table().to_html(index=False)


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


@dataclass
class Claims:
    """A paper-vs-this-run table. holds: True, False or "not at this scale".
    `checked=True` marks claims the ci profile can test: `assert_checked()` raises if one fails."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, claim: str, paper: Any, measured: Any, holds: bool | str, *, checked: bool = False) -> bool | str:
        if isinstance(holds, (np.bool_,)):
            holds = bool(holds)
        if holds is not True and holds is not False and holds != NOT_AT_SCALE:
            raise ValueError(f"holds must be True, False or {NOT_AT_SCALE!r}, not {holds!r}")
        self.rows.append({"claim": claim, "paper": _jsonable(paper), "measured": _jsonable(measured),
                          "holds": holds, "checked": bool(checked)})
        return holds

    def table(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=["claim", "paper", "measured", "holds", "checked"])
        return df

    def _repr_html_(self):
        df = self.table().copy()
        colour = {True: "#d4f4dd", False: "#f8d7da"}
        styler = df.style.apply(lambda r: [f"background-color: {colour.get(r.holds, '#fff3cd')}"] * len(r), axis=1)
        return styler.hide(axis="index").to_html()

    def failed_checks(self) -> list[dict]:
        return [r for r in self.rows if r["checked"] and r["holds"] is not True]

    def assert_checked(self) -> None:
        bad = self.failed_checks()
        if bad:
            lines = "\n".join(f"- {r['claim']}: paper {r['paper']}, measured {r['measured']}" for r in bad)
            raise AssertionError(f"{len(bad)} checked claim(s) do not hold at this scale:\n{lines}")

    def save(self, output_dir: str | os.PathLike, **extra: Any) -> Path:
        path = Path(output_dir) / "results.json"
        payload = {"claims": [{k: r[k] for k in ("claim", "paper", "measured", "holds")} for r in self.rows],
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
def median_spread(values) -> str:
    """'median [min, max] (n=K)' of the finite values, or 'none (n=K)'."""
    arr = np.asarray([v for v in values], dtype=float)
    ok = arr[np.isfinite(arr)]
    if not len(ok):
        return f"none of {len(arr)}"
    return f"{np.median(ok):.4g} [{ok.min():.4g}, {ok.max():.4g}] ({len(ok)}/{len(arr)})"
