"""Execute notebooks headless through papermill (what `make demo` runs): same as `grokkit run`.

    python tools/run_notebooks.py --profile demo --out out notebooks/*.ipynb
"""
import sys

from grokkit.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
