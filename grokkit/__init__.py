"""grokkit: a Jupyter-first lab for grokking (delayed generalisation) research."""
__version__ = "0.1.0"


def sweep(notebook, grid, **kwargs):
    """Run a notebook once per grid point on a Dask cluster and aggregate; one row per point (a DataFrame).

        grokkit.sweep("00_quickstart", {"seed": range(3)}, profile="ci", cluster="local:2", out="out/sweep")

    See grokkit.dask_sweep.sweep for the options (params, cluster, out, resources, timeout, ...)."""
    from .dask_sweep import sweep as _sweep

    return _sweep(notebook, grid, **kwargs)
