"""Frozen entry point of `roundhoused`, the daemon executable."""

import multiprocessing
import sys

from roundhouse.daemon.cli import main

if __name__ == "__main__":
    # A library that starts a worker process re-runs this executable; let it become the worker.
    multiprocessing.freeze_support()
    sys.exit(main())
