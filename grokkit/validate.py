"""Up-front parameter checks with messages that name the parameter and what is allowed."""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from typing import Any


def choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {allowed}")
    return value


def fraction(name: str, value: float, *, closed_low: bool = False, closed_high: bool = False) -> float:
    """A number in (0, 1) (ends included on request)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number in (0, 1)") from None
    lo_ok = v >= 0 if closed_low else v > 0
    hi_ok = v <= 1 if closed_high else v < 1
    if not (lo_ok and hi_ok) or math.isnan(v):
        lo = "[" if closed_low else "("
        hi = "]" if closed_high else ")"
        raise ValueError(f"{name}={value!r} must lie in {lo}0, 1{hi}")
    return v


def integer(name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}={value!r} must be an integer") from None
    if min_value is not None and value < min_value:
        raise ValueError(f"{name}={value} must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name}={value} must be <= {max_value}")
    return value


def number(name: str, value: Any, *, min_value: float | None = None, strict: bool = False,
           allow_inf: bool = False) -> float:
    """A real number: never NaN, finite unless `allow_inf=True`, and >= (or > if strict) min_value."""
    op = ">" if strict else ">="
    bound = "" if min_value is None else f" {op} {min_value}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number{bound}") from None
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name}={value!r} must be a finite number{bound}")
    if min_value is not None and (v <= min_value if strict else v < min_value):
        raise ValueError(f"{name}={value!r} must be{bound}")
    return v


def per_member(name: str, value: Any, n_members: int, *, min_value: float | None = None) -> tuple[float, ...]:
    """A scalar (same for every ensemble member) or one value per member."""
    if isinstance(value, (int, float)):
        values = [value] * n_members
    elif isinstance(value, Sequence) or hasattr(value, "__len__"):
        values = list(value)
        if len(values) != n_members:
            raise ValueError(f"{name} has {len(values)} values but the ensemble has {n_members} members")
    else:
        raise ValueError(f"{name}={value!r} must be a number or a sequence of {n_members} numbers")
    return tuple(number(name, v, min_value=min_value) for v in values)


DEVICES = "auto, cpu, cuda, cuda:N, mps"


def device(name: str, value: Any) -> str:
    """A torch device string, checked for syntax (auto|cpu|cuda|cuda:N|mps) and for availability on this
    machine. Returns it normalised (stripped, lower case); "auto" stays "auto" (CUDA when present at run time)."""
    if not isinstance(value, str):
        import torch

        if not isinstance(value, torch.device):
            raise ValueError(f"{name}={value!r} must be a string, one of {DEVICES}")
        value = str(value)
    v = value.strip().lower()
    kind, sep, index = v.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (sep and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"{name}={value!r} is not a device; choose one of {DEVICES} (N a GPU index, e.g. cuda:0)")
    if kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{name}={value!r}: CUDA is not available here (torch {torch.__version__}, "
                             f"CUDA build {torch.version.cuda or 'none'}); use device='cpu' or 'auto'")
        if sep:
            v = f"cuda:{int(index)}"
            n = torch.cuda.device_count()
            if int(index) >= n:
                raise ValueError(f"{name}={value!r}: this machine has {n} CUDA device(s), "
                                 f"so N in cuda:N must be in 0..{n - 1}")
    if kind == "mps":
        import torch

        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"{name}={value!r}: MPS (Apple GPU) is not available here; "
                             "use device='cpu' or 'auto'")
    return v


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


PROFILES = ("ci", "demo", "paper")


def profile(value: str) -> str:
    return choice("profile", value, PROFILES)
