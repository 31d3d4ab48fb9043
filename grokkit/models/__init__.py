"""Ensemble-native models: every parameter has a leading member axis."""
from .base import EnsembleModule, gather_rows
from .mlp import MLP, EmbedMLP, EmbedMLPConfig, MLPConfig, OneHotMLP, OneHotMLPConfig
from .transformer import Transformer, TransformerConfig

CONFIG_TO_MODEL = {
    EmbedMLPConfig: EmbedMLP,
    OneHotMLPConfig: OneHotMLP,
    MLPConfig: MLP,
    TransformerConfig: Transformer,
}


def register(config_cls, model_cls):
    """Make `build` know a new config -> model pair (used by task-specific models)."""
    CONFIG_TO_MODEL[config_cls] = model_cls


def build(config, n_members: int = 1, seeds=0, init_scale=1.0, device="cpu") -> EnsembleModule:
    """Build an ensemble from a model config, initialise member m from seeds[m] (int: seed + m)."""
    try:
        cls = CONFIG_TO_MODEL[type(config)]
    except KeyError:
        raise TypeError(f"unknown model config {type(config).__name__}; known: "
                        f"{[c.__name__ for c in CONFIG_TO_MODEL]}") from None
    model = cls(config, n_members=n_members).reset_parameters(seeds, init_scale)
    return model.to(device)


def from_state(config, state, device="cpu") -> EnsembleModule:
    """The ensemble of `config` holding the parameters `state` (e.g. a run's checkpoint or final_state); the number
    of members is the state's leading dimension."""
    model = build(config, n_members=next(iter(state.values())).shape[0], device=device)
    model.load_state_dict({k: v.to(device) for k, v in state.items()})
    return model


__all__ = [
    "EnsembleModule", "gather_rows", "MLP", "MLPConfig", "EmbedMLP", "EmbedMLPConfig", "OneHotMLP",
    "OneHotMLPConfig", "Transformer", "TransformerConfig", "build", "from_state", "register",
]
