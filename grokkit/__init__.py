"""grokkit: a Jupyter-first lab for grokking (delayed generalisation) research."""
__version__ = "0.1.0"
