"""Notebook parameters, declared once.

    PARAMS = nb.Params("00_quickstart",
        nb.Param("p", int, "prime modulus", ci=97, demo=67, paper=67, check=nb.prime),
        nb.Param("operation", str, "a∘b mod p", default="add", choices=OPERATIONS),
        nb.Param("train_frac", float, "share of pairs used for training", default=0.4, range=(0, 1), open="both"),
        nb.Param("weight_decays", list, "AdamW weight decays", ci=[0.3, 1.0], default=[1.0], item=float,
                 range=(0, None)))
    S = PARAMS.resolve(globals())

From that one declaration come: validation (type, choices, range, custom check; a message that names the
parameter and what is allowed), unknown-parameter errors, the settings table, the widgets of the section
panels (`grokkit.widgets`) and `grokkit run NOTEBOOK --help-params`. Every notebook also takes the common
parameters `profile`, `source`, `seed`, `device` and `output_dir`.

Lists are returned as tuples (settings are shared by sections and panels: they must not change under them).
"""
from __future__ import annotations

import ast
import builtins
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import validate

PROFILES = ("ci", "demo", "paper")
SPEC_TAG = "params-spec"
_UNSET = object()
_TYPES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", tuple: "list"}


def default_profile() -> str:
    return os.environ.get("GROKKIT_PROFILE", "demo")


def data_root() -> Path:
    """Where shipped result bundles live: $GROKKIT_DATA or the checkout's data/ folder."""
    env = os.environ.get("GROKKIT_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def shipped_bundles(notebook: str) -> list[str]:
    """Profiles with a shipped bundle data/<notebook>/<profile>/."""
    root = data_root() / notebook
    return sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []


def shipped_dir(notebook: str, profile: str) -> Path:
    """data/<notebook>/<profile>/, or a ValueError that lists the bundles that exist."""
    d = data_root() / notebook / profile
    if not d.is_dir():
        have = shipped_bundles(notebook)
        raise ValueError(f"no shipped results for {notebook} profile {profile!r}; shipped: "
                         f"{', '.join(have) if have else 'none'} (under {data_root() / notebook})")
    return d


@dataclass(frozen=True)
class Check:
    """A named predicate for Param(check=...): the description says what is allowed ("a prime")."""

    description: str
    test: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))


prime = Check("a prime", lambda v: validate.is_prime(int(v)))
positive = Check("> 0", lambda v: v > 0)


class Param:
    """One notebook parameter: name, type, help, per-profile default and what is allowed.

    type:      int, float, str, bool or list (list items: `item` type; returned as a tuple).
    default:   the value for every profile; `ci=`, `demo=`, `paper=` override it per profile.
    choices:   allowed values (for a list: allowed items).
    range:     (lo, hi) bounds, None = unbounded; closed unless `open` is "low", "high" or "both".
    check:     a `Check` (e.g. `nb.prime`) or callable(value) that returns False or raises ValueError.
    nullable:  None is an allowed value (otherwise None means "the profile's default").
    widget:    the section panels' control: (lo, hi[, step]) -> slider, [options] -> dropdown.
    """

    def __init__(self, name: str, type: type, help: str, *, default: Any = _UNSET, ci: Any = _UNSET,
                 demo: Any = _UNSET, paper: Any = _UNSET, choices: Iterable[Any] | None = None,
                 range: tuple[float | None, float | None] | None = None, open: str | None = None,
                 item: type | None = None, check: Callable[[Any], Any] | None = None, nullable: bool = False,
                 widget: tuple | list | None = None):
        if type not in _TYPES:
            raise TypeError(f"Param {name!r}: type must be one of int, float, str, bool, list, not {type!r}")
        if open not in (None, "low", "high", "both"):
            raise ValueError(f"Param {name!r}: open must be None, 'low', 'high' or 'both'")
        if range is not None and len(range) != 2:
            raise ValueError(f"Param {name!r}: range must be (lo, hi) with None for an open end")
        self.name, self.type, self.help = name, (list if type is tuple else type), help
        self.choices = list(choices) if choices is not None else None
        self.range, self.open, self.item, self.check = range, open, item, check
        self.nullable, self.widget = nullable, widget
        given = {"ci": ci, "demo": demo, "paper": paper}
        missing = [pr for pr in PROFILES if given[pr] is _UNSET and default is _UNSET]
        if missing:
            raise TypeError(f"Param {name!r} has no default for profile(s) {missing}: give default= or {missing[0]}=")
        # the defaults are validated too: a typo in a declaration fails at once
        self.defaults = {pr: self.validate(default if given[pr] is _UNSET else given[pr])
                         for pr in PROFILES}

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {_TYPES[self.type]}, defaults={self.defaults})"

    # ---- what is allowed, in words
    def _bounds_text(self, what: str) -> str:
        lo, hi = self.range if self.range else (None, None)
        lo_op = "<" if self.open in ("low", "both") else "<="
        hi_op = "<" if self.open in ("high", "both") else "<="
        if lo is not None and hi is not None:
            return f"{lo} {lo_op} {what} {hi_op} {hi}"
        if lo is not None:
            return f"{what} {'>' if lo_op == '<' else '>='} {lo}"
        if hi is not None:
            return f"{what} {hi_op} {hi}"
        return ""

    def allowed(self) -> str:
        """What the parameter accepts, e.g. 'float, 0 < x < 1' or 'list of float, x >= 0'."""
        t = _TYPES[self.type] if self.type is not list else f"list of {_TYPES.get(self.item, 'values')}"
        parts = [t]
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.range:
            parts.append(self._bounds_text("x"))
        if self.check is not None:
            parts.append(getattr(self.check, "description", getattr(self.check, "__name__", "custom check")))
        if self.nullable:
            parts.append("or None")
        return ", ".join(parts)

    # ---- validation
    def _fail(self, value: Any, what: str) -> ValueError:
        return ValueError(f"{self.name}={value!r} is not allowed: {what}")

    def _scalar(self, t: type | None, value: Any, shown: Any) -> Any:
        """Coerce one value (a scalar or a list item) to t; strings (papermill -p, widget text) are parsed."""
        if t is None:
            return value
        if t is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise self._fail(shown, "must be True or False")
        if t is str:
            if isinstance(value, str):
                return value
            raise self._fail(shown, "must be a string" + (f" (one of {self.choices})" if self.choices else ""))
        if isinstance(value, bool):
            raise self._fail(shown, f"must be {'an integer' if t is int else 'a number'}, not a bool")
        if isinstance(value, str):
            try:
                value = json.loads(value.strip())
            except ValueError:
                raise self._fail(shown, f"must be {'an integer' if t is int else 'a number'}") from None
        if t is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if hasattr(value, "__index__") and not isinstance(value, bool):
                return int(value.__index__())
            raise self._fail(shown, "must be an integer")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise self._fail(shown, "must be a number") from None
        if not math.isfinite(v):
            raise self._fail(shown, "must be a finite number")
        return v

    def _item_checks(self, v: Any, shown: Any) -> None:
        if self.choices is not None and v not in self.choices:
            raise ValueError(f"{self.name}={shown!r} is not allowed; choose "
                             f"{'items from' if self.type is list else 'one of'} {self.choices}")
        if self.range is not None:
            lo, hi = self.range
            lo_open, hi_open = self.open in ("low", "both"), self.open in ("high", "both")
            bad = (lo is not None and (v <= lo if lo_open else v < lo)) or \
                  (hi is not None and (v >= hi if hi_open else v > hi))
            if bad:
                each = " (each item)" if self.type is list else ""
                if lo is not None and hi is not None:
                    raise self._fail(shown, f"must lie in {self._bounds_text(self.name if not each else 'x')}{each}")
                raise self._fail(shown, f"must be{self._bounds_text('')}{each}")

    def _run_check(self, v: Any, shown: Any) -> None:
        if self.check is None:
            return
        desc = getattr(self.check, "description", None)
        try:
            ok = self.check(v)
        except ValueError as e:
            msg = str(e)
            raise ValueError(msg if self.name in msg else f"{self.name}={shown!r}: {msg}") from None
        if ok is False:
            raise self._fail(shown, f"must be {desc}" if desc else "rejected by its check")

    def validate(self, value: Any) -> Any:
        """The normalised value, or a ValueError that names the parameter and what is allowed."""
        if value is None:
            if self.nullable:
                return None
            raise self._fail(value, f"expected {self.allowed()}")
        if self.type is list:
            items = value
            if isinstance(value, str):
                s = value.strip()
                try:
                    items = json.loads(s) if s.startswith("[") else None
                except ValueError:
                    items = None
                if items is None:
                    items = [x.strip().strip("'\"") for x in s.strip("()[] ").split(",") if x.strip()]
            elif not isinstance(value, (list, tuple)) and hasattr(value, "tolist"):
                items = value.tolist()
            if not isinstance(items, (list, tuple)):
                raise self._fail(value, f"expected {self.allowed()}")
            out = tuple(self._scalar(self.item, x, value) for x in items)
            for x in out:
                self._item_checks(x, value)
            self._run_check(out, value)
            return out
        v = self._scalar(self.type, value, value)
        self._item_checks(v, value)
        self._run_check(v, value)
        return v


def _common(notebook: str) -> list[Param]:
    return [
        Param("profile", str, "scale: ci (CI, seconds on 2 cores), demo (minutes on a laptop), paper (the paper's)",
              default="demo", choices=PROFILES),
        Param("source", str, "'run' (compute), 'shipped' (replay data/<notebook>/<profile>/) or an earlier "
              "run's output folder", default="run"),
        Param("seed", int, "base random seed", default=0, range=(0, None)),
        Param("device", str, "'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:N' or 'mps'", default="auto",
              check=Check("an available device", lambda v: validate.device("device", v))),
        Param("output_dir", str, f"output folder (default: $GROKKIT_OUTPUT or out/{notebook}/<profile>)",
              default=None, nullable=True),
    ]


class Settings(dict):
    """The resolved parameters of a notebook run: attribute access, a printable table.

    Besides the values (dict items) a Settings made by `Params.resolve` knows its declaration (`spec`) and
    notebook name, and collects `sections` (name -> Result) and `stale` (section name -> message) as
    sections run or replay."""

    _META = ("spec", "notebook", "sections", "stale")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = None
        self.notebook = None
        self.sections = {}
        self.stale = {}

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def override(self, **values: Any) -> Settings:
        """A validated copy with some values replaced (what a panel's Run does). None = the profile default."""
        if self.spec is None:
            return Settings({**self, **values})
        unknown = [n for n in values if n not in self.spec.names]
        if unknown:
            raise ValueError(f"unknown parameters {unknown}; {self.notebook} takes {self.spec.names}")
        return self.spec._resolve_values(self.notebook, {**self, **values}, mkdir=False)

    def table(self) -> pd.DataFrame:
        if self.spec is None:
            return pd.DataFrame({"parameter": list(self), "value": [repr(v) for v in self.values()]})
        rows = []
        defaults = self.spec.defaults(self.get("profile", default_profile()))
        for name, value in self.items():
            p = self.spec.get(name)
            d = defaults.get(name, value)
            changed = name in self.spec.names and name != "profile" and _as_json(value) != _as_json(d)
            rows.append({"parameter": name, "value": _show(value), "profile default": _show(d),
                         "changed": "*" if changed else "", "help": p.help if p else ""})
        return pd.DataFrame(rows)

    def _repr_html_(self):
        df = self.table()
        if "changed" not in df:
            return df.to_html(index=False)
        styler = df.style.apply(lambda r: ["font-weight: bold; background-color: #fff3cd" if r.changed else ""]
                                * len(r), axis=1)
        return styler.hide(axis="index").to_html()


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(map(repr, v)) + "]"
    return str(v) if isinstance(v, Path) else repr(v)


def _as_json(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_as_json(x) for x in v]
    return str(v) if isinstance(v, Path) else v


class Params:
    """A notebook's parameter declaration (see the module docstring)."""

    def __init__(self, notebook: str, *params: Param, checks: Iterable[Callable[[Settings], Any]] = ()):
        self.notebook = notebook
        self.common = _common(notebook)
        self.params = list(params)
        self.checks = list(checks)
        seen: set[str] = set()
        for p in self.common + self.params:
            if not isinstance(p, Param):
                raise TypeError(f"Params({notebook!r}, ...) takes Param objects, got {p!r}")
            if p.name in seen:
                raise ValueError(f"parameter {p.name!r} is declared twice (common parameters: "
                                 f"{[c.name for c in self.common]})")
            if p.name in Settings._META or hasattr(Settings, p.name):
                raise ValueError(f"parameter name {p.name!r} is reserved (a Settings attribute)")
            seen.add(p.name)
        self._by_name = {p.name: p for p in self.common + self.params}

    @property
    def knobs(self) -> list[str]:
        """The notebook's own parameters (without the common ones)."""
        return [p.name for p in self.params]

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def get(self, name: str) -> Param | None:
        return self._by_name.get(name)

    def defaults(self, profile: str) -> dict[str, Any]:
        validate.choice("profile", profile, PROFILES)
        return {p.name: p.defaults[profile] for p in self.common + self.params if p.name != "profile"} | \
            {"profile": profile}

    # ---- resolution
    def resolve(self, namespace: Mapping[str, Any] | None = None, /, **values: Any) -> Settings:
        """Settings from a notebook's globals() (the papermill `parameters` cell + what papermill injected)
        and/or keyword values. None = the profile's default. Raises ValueError on unknown or bad values."""
        ns = dict(namespace or {})
        if namespace is not None:
            injected = _injected_names(namespace)
            unknown = [n for n in injected if n not in self._by_name]
            if unknown:
                raise ValueError(f"unknown parameters {unknown}; {self.notebook} takes {self.names}")
            if "In" in namespace:  # a notebook: every declared name must be in its parameters cell
                missing = [n for n in self.names if n not in namespace]
                if missing:
                    raise ValueError(f"parameters {missing} are declared but missing from the `parameters` cell "
                                     f"(add `name = None` there)")
        unknown = [n for n in values if n not in self._by_name]
        if unknown:
            raise ValueError(f"unknown parameters {unknown}; {self.notebook} takes {self.names}")
        ns.update(values)
        given = {n: ns[n] for n in self._by_name if ns.get(n) is not None}
        return self._resolve_values(self.notebook, given, mkdir=True)

    def _resolve_values(self, notebook: str, given: dict[str, Any], *, mkdir: bool) -> Settings:
        profile = given.get("profile") or default_profile()
        validate.choice("profile", profile, PROFILES)
        defaults = self.defaults(profile)
        s = Settings(profile=profile)
        s["source"] = _check_source(notebook, profile, given.get("source") or defaults["source"])
        for p in self.params:
            v = given.get(p.name)
            s[p.name] = defaults[p.name] if v is None else p.validate(v)
        s["seed"] = self["seed"].validate(given["seed"]) if given.get("seed") is not None else defaults["seed"]
        s["device"] = self["device"].validate(given.get("device") or defaults["device"])
        out = given.get("output_dir")
        s["output_dir"] = Path(out) if out else Path(os.environ.get("GROKKIT_OUTPUT", "out")) / notebook / profile
        s.spec, s.notebook = self, notebook
        for check in self.checks:
            check(s)
        if mkdir:
            s["output_dir"].mkdir(parents=True, exist_ok=True)
        return s

    # ---- documentation
    def describe(self, profile: str | None = None) -> pd.DataFrame:
        """One row per parameter: name, what is allowed, the default (of one profile, or of each), help."""
        profiles = PROFILES if profile is None else (validate.choice("profile", profile, PROFILES),)
        rows = []
        for p in self.params + self.common:
            row = {"parameter": p.name, "allowed": p.allowed()}
            for pr in profiles:
                row[pr if profile is None else "default"] = _show(p.defaults[pr]) if p.name != "profile" else pr
            row["help"] = p.help
            rows.append(row)
        return pd.DataFrame(rows)

    def help_text(self, profile: str | None = None) -> str:
        df = self.describe(profile).astype(str)
        scope = f"profile {profile!r}" if profile else "defaults per profile"
        widths = {c: max(len(c), *(len(v) for v in df[c])) for c in df.columns}
        lines = ["  ".join(c.ljust(widths[c]) for c in df.columns).rstrip()]
        lines += ["  ".join(str(v).ljust(widths[c]) for c, v in zip(df.columns, row)).rstrip()
                  for row in df.itertuples(index=False)]
        return f"{self.notebook}: parameters ({scope}); pass them with -p name=value\n" + "\n".join(lines)

    def parameters_cell(self) -> str:
        """The source of the papermill `parameters` cell that goes with this declaration."""
        lines = ["import os", "",
                 'profile = os.environ.get("GROKKIT_PROFILE", "demo")  # "ci" | "demo" | "paper"',
                 'source = os.environ.get("GROKKIT_SOURCE", "run")  # "run" | "shipped" | an earlier output folder',
                 "seed = 0", 'device = "auto"', "output_dir = None"]
        lines += [f"{p.name} = None  # {p.help}" for p in self.params]
        return "\n".join(lines)


def _check_source(notebook: str, profile: str, source: Any) -> str | Path:
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"source={source!r} is not allowed: use 'run', 'shipped' or the output folder of an "
                         "earlier run")
    if source in ("run", "shipped"):
        if source == "shipped":
            shipped_dir(notebook, profile)
        return source
    path = Path(source).expanduser()
    if not path.is_dir():
        raise ValueError(f"source={str(source)!r} is not allowed: use 'run', 'shipped' or the output folder of an "
                         f"earlier run ({path.resolve()} is not a folder)")
    if not (path / "results").is_dir() and (path / notebook / "results").is_dir():
        path = path / notebook  # the --out folder of `grokkit run` / `make demo`: one subfolder per notebook
    return path.resolve()


def _injected_names(namespace: Mapping[str, Any]) -> list[str]:
    """Names assigned in papermill's injected-parameters cells (IPython's input history `In`)."""
    names: list[str] = []
    for src in namespace.get("In", None) or []:
        if isinstance(src, str) and src.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id not in names]
    return names


# ---- the declaration cell of a notebook file (for `grokkit run NOTEBOOK --help-params`)
def notebook_path(notebook: str | os.PathLike) -> Path:
    """A notebook file from a path or a bare name such as 00_quickstart (looked up in notebooks/)."""
    p = Path(notebook)
    if p.exists():
        return p
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for cand in (root / f"{p.stem}.ipynb", root / "src" / f"{p.stem}.py"):
        if cand.exists():
            return cand
    raise ValueError(f"notebook {str(notebook)!r} not found (give a path or one of "
                     f"{sorted(x.stem for x in root.glob('*.ipynb'))})")


def spec_source(path: str | os.PathLike) -> str:
    """The source of the cell tagged `params-spec` in an .ipynb or a percent-format .py notebook."""
    path = Path(path)
    if path.suffix == ".ipynb":
        nbjson = json.loads(path.read_text())
        for cell in nbjson.get("cells", []):
            if cell.get("cell_type") == "code" and SPEC_TAG in cell.get("metadata", {}).get("tags", []):
                src = cell["source"]
                return "".join(src) if isinstance(src, list) else src
    else:
        cells = re.split(r"^# %%", path.read_text(), flags=re.M)
        for cell in cells[1:]:
            header, _, body = cell.partition("\n")
            if SPEC_TAG in header:
                return body
    raise ValueError(f"{path.name} has no cell tagged {SPEC_TAG!r} (it declares no nb.Params yet)")


def load_spec(notebook: str | os.PathLike) -> Params:
    """Execute a notebook's `params-spec` cell in a fresh namespace and return its Params."""
    path = notebook_path(notebook)
    ns: dict[str, Any] = {"__name__": "__grokkit_params_spec__", "__builtins__": builtins}
    exec(compile(spec_source(path), f"{path.name}:params-spec", "exec"), ns)
    found = [v for v in ns.values() if isinstance(v, Params)]
    if len(found) != 1:
        raise ValueError(f"the {SPEC_TAG} cell of {path.name} must define exactly one nb.Params ({len(found)} found)")
    return found[0]
