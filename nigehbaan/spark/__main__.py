"""`python -m nigehbaan.spark score ...`, and the file spark-submit runs (it needs a .py path:
`python -m nigehbaan.spark entry` prints this one)."""

import os
import sys

if __name__ == "__main__":
    # Run as a file (spark-submit), Python puts this folder first on sys.path, where schema.py
    # and score.py would shadow any top-level modules of those names: take it off.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]

    from nigehbaan.spark.job import main

    sys.exit(main())
