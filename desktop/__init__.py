"""Roundhouse tray app."""

from roundhouse.desktop.qt_refcounts import protect_singletons

protect_singletons()
