"""ipywidgets control panels bound to notebook parameters.

`section_panel(section, S, draw=..., claims=...)` (or `section.panel(S, ...)`): one panel per notebook section.
Its widgets come from the section's knobs' `Param` declarations (slider for a bounded number or a
`widget=(lo, hi, step)`, dropdown for choices, checkbox for a bool, text for lists and the rest). Run
re-executes only that section with the widget values overriding the notebook's settings (source "run";
fits trained before load from the run store), then shows `draw(R)` and the claims rows of `claims(R)`.

`panel(fn, p=(...), operation=[...], ...)` (the older form) shows one control per keyword (slider for a
(min, max[, step]) tuple, dropdown for a list, checkbox for a bool, text otherwise), initialised from `values`, and a
Run button that calls fn(**current values) and displays what it returns in the panel's output area.
Under papermill the notebook calls fn with its parameters directly; the panel is only displayed.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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


# ---- section panels ----------------------------------------------------------------------------
def control(param, value: Any) -> W.Widget:
    """A widget for one declared parameter (grokkit.params.Param), showing `value`."""
    style = {"description_width": "initial"}
    name, spec = param.name, param.widget
    if spec is None and param.choices is not None and param.type is not list:
        spec = list(param.choices)
    if spec is None and param.type in (int, float) and param.range and None not in param.range:
        lo, hi = param.range
        spec = (lo, hi) if param.type is int else (float(lo), float(hi))
    if param.type is bool:
        return W.Checkbox(value=bool(value), description=name, style=style, tooltip=param.help)
    if value is not None and param.type is not list and (isinstance(spec, list) or
                                                         isinstance(spec, tuple) and len(spec) in (2, 3)):
        w = _control(name, spec, value)
        w.tooltip = param.help
        return w
    if value is None:
        text = ""
    elif param.type is list:
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    return W.Text(value=text, description=name, style=style, tooltip=param.help,
                  placeholder=param.allowed())


def _value(param, w: W.Widget) -> Any:
    """The widget's value for Settings.override (which parses text and validates)."""
    if isinstance(w, W.Text) and w.value.strip() == "" and param.nullable:
        return None
    return w.value


def _show(obj: Any) -> None:
    if obj is None:
        return
    for o in obj if isinstance(obj, (list, tuple)) else [obj]:
        display(o)


def section_panel(section, S, draw: Callable[[Any], Any] | None = None,
                  claims: Callable[[Any], list] | None = None, knobs: Iterable[str] | None = None,
                  **inputs: Any) -> W.VBox:
    """A control panel for one section (see the module docstring). `inputs`: extra keyword arguments for the
    section's function (e.g. an earlier section's result). `box.run()` presses Run (tests); `box.result` is
    the last Result. Under papermill the panel is only displayed."""
    from .notebook import Claims

    spec = S.spec
    if spec is None:
        raise ValueError("section panels need settings made by nb.Params(...).resolve(...)")
    names = list(knobs) if knobs is not None else list(section.knobs)
    missing = [n for n in names if n not in spec.names]
    if missing:
        raise ValueError(f"panel of section {section.name!r}: {missing} are not parameters ({spec.names})")
    controls = {n: control(spec[n], S[n]) for n in names}
    button = W.Button(description="Run", button_style="primary", icon="play",
                      tooltip=f"re-run section {section.name!r} with these values")
    status = W.HTML()
    out = W.Output()
    title = W.HTML(f"<b>{section.name}</b>: change the values and press Run (runs done before load instantly)")
    box = W.VBox([title, W.HBox(list(controls.values()), layout=W.Layout(flex_flow="row wrap")),
                  W.HBox([button, status]), out])
    box.result = None

    def on_click(_=None):
        button.disabled, button.description, button.icon = True, "Running…", "hourglass"
        status.value = ""
        out.clear_output()
        t0 = time.time()
        try:
            with out:
                try:
                    S2 = S.override(source="run", **{n: _value(spec[n], w) for n, w in controls.items()})
                    R = section.compute(S2, save=False, **({"live": True} if section.takes_live else {}), **inputs)
                    # the live plot and the progress bar (red when fit stopped early) give way to the figure
                    out.clear_output(wait=draw is not None or claims is not None)
                    if draw is not None:
                        _show(draw(R))
                    if claims is not None:
                        table = Claims()
                        table.extend(claims(R), R)
                        display(table)
                    box.result = R
                    status.value = f"<span style='color:gray'>done in {time.time() - t0:.1f} s</span>"
                except Exception as e:  # one line in the panel, not a traceback wall
                    print(f"{type(e).__name__}: {e}")
                    status.value = "<span style='color:#d62728'>failed</span>"
        finally:
            button.disabled, button.description, button.icon = False, "Run", "play"

    button.on_click(on_click)
    box.run = on_click  # programmatic trigger (tests)
    box.controls = controls
    box.button = button
    box.output = out
    return box
