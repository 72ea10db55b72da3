"""`python -m nigehbaan ...`: the same command line as the `nigehbaan` console script."""

import sys

from nigehbaan.cli import main

if __name__ == "__main__":
    sys.exit(main())
