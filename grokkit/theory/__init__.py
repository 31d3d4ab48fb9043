"""Theory of grokking as circuit efficiency (spec 02): the toy two-circuit model (Table 1 of Varma et al.
2023) and the allocation theorem (Thm D.4) / logit-scaling theorem (Thm D.1) checked numerically."""
from .allocation import (
    AllocationResult,
    allocation_exponent,
    check_allocation,
    logit_scaling_losses,
    minimise_allocation,
)
from .toy import TOY_SETTINGS, ToyConfig, ToyResult, simulate_toy, toy_grad, toy_loss

__all__ = [
    "AllocationResult", "allocation_exponent", "check_allocation", "logit_scaling_losses", "minimise_allocation",
    "TOY_SETTINGS", "ToyConfig", "ToyResult", "simulate_toy", "toy_grad", "toy_loss",
]
