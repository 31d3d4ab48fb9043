"""Tasks: tables of inputs and labels plus splits (row indices)."""
from .modular import (
    OPERATIONS,
    SPLITS,
    ModularTask,
    Split,
    make_split,
    random_split,
    square_split,
    strip_split,
    subset,
)

__all__ = [
    "OPERATIONS", "SPLITS", "ModularTask", "Split", "make_split", "random_split", "square_split",
    "strip_split", "subset",
]
