"""Roundhouse daemon: the local endpoint. No Qt import anywhere below this package."""

__version__ = "0.1.0"
