"""Frozen entry point of `roundhouse`, the tray app executable."""

import sys

from roundhouse.desktop.main import main

if __name__ == "__main__":
    sys.exit(main())
