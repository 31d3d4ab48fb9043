"""Measures computed on models, masks and histories (one module per family; import the submodule)."""
