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


def number(name: str, value: Any, *, min_value: float | None = None, strict: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number") from None
    if math.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    if min_value is not None and (v <= min_value if strict else v < min_value):
        op = ">" if strict else ">="
        raise ValueError(f"{name}={value!r} must be {op} {min_value}")
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
