"""ipywidgets control panels bound to notebook parameters.

`panel(fn, p=(...), operation=[...], ...)` shows one control per keyword (slider for a (min, max[, step])
tuple, dropdown for a list, checkbox for a bool, text otherwise), initialised from `values`, and a
Run button that calls fn(**current values) and displays what it returns in the panel's output area.
Under papermill the notebook calls fn with its parameters directly; the panel is only displayed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W
from IPython.display import display


def _control(name: str, spec: Any, value: Any) -> W.Widget:
    style = {"description_width": "initial"}
    if isinstance(spec, bool) or isinstance(value, bool) and spec is None:
        return W.Checkbox(value=bool(value), description=name, style=style)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        lo, hi = spec[0], spec[1]
        step = spec[2] if len(spec) == 3 else None
        if all(isinstance(v, int) for v in (lo, hi, value)) and (step is None or isinstance(step, int)):
            return W.IntSlider(value=value, min=lo, max=hi, step=step or 1, description=name, style=style,
                               continuous_update=False)
        return W.FloatSlider(value=float(value), min=lo, max=hi, step=step or (hi - lo) / 100, description=name,
                             style=style, continuous_update=False, readout_format=".3g")
    if isinstance(spec, list):
        options = spec if value in spec else [value, *spec]
        return W.Dropdown(options=options, value=value, description=name, style=style)
    return W.Text(value=str(value), description=name, style=style)


def panel(fn: Callable[..., Any], values: dict[str, Any], **controls: Any) -> W.VBox:
    """A control panel for fn. values: current parameter values (e.g. the notebook's settings)."""
    widgets = {name: _control(name, spec, values[name]) for name, spec in controls.items()}
    button = W.Button(description="Run", button_style="primary", icon="play")
    out = W.Output()

    def convert(name, w):
        v = w.value
        if isinstance(w, W.Text):
            orig = values[name]
            if isinstance(orig, (list, tuple)):
                v = type(orig)(type(orig[0])(x.strip()) for x in v.strip("()[] ").split(",") if x.strip())
            elif orig is not None:
                v = type(orig)(v)
        return v

    def on_click(_):
        out.clear_output()
        with out:
            try:
                result = fn(**{n: convert(n, w) for n, w in widgets.items()})
                if result is not None:
                    display(result)
            except Exception as e:  # show the message in the panel, not a traceback wall
                print(f"{type(e).__name__}: {e}")

    button.on_click(on_click)
    box = W.VBox([W.HBox(list(widgets.values()), layout=W.Layout(flex_flow="row wrap")), button, out])
    box.run = on_click  # programmatic trigger (tests)
    box.controls = widgets
    box.output = out
    return box
