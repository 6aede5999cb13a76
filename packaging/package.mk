# `make package`: the installable build for this OS, into dist/roundhouse/ (included by the Makefile).
#   make package          PyInstaller onedir bundle: the tray app, the daemon, the default model
#   make package-archive  the same, packed for download (dist/roundhouse-<version>-<os>-<machine>.tar.gz)
#   make package-check    build it, then run the daemon from it headless and ask it one question
#   make installer        Windows only, after `make package`: Inno Setup's iscc on installer.iss

PYINSTALLER_VERSION ?= 6.22.3
PYINSTALLER_HOOKS_VERSION ?= 2026.9
ifeq ($(OS),Windows_NT)
PACKAGING_PYTHON ?= .venv/Scripts/python.exe
ISCC ?= iscc
else
PACKAGING_PYTHON ?= .venv/bin/python
endif

.PHONY: package package-archive package-check package-tools installer

package-tools:
	$(PACKAGING_PYTHON) -m pip install --quiet pyinstaller==$(PYINSTALLER_VERSION) pyinstaller-hooks-contrib==$(PYINSTALLER_HOOKS_VERSION)

package: package-tools
	$(PACKAGING_PYTHON) packaging/build.py

package-archive: package-tools
	$(PACKAGING_PYTHON) packaging/build.py --archive

package-check: package-tools
	PYTHON=$(PACKAGING_PYTHON) bash packaging/ci_bundle_check.sh

installer:
	$(ISCC) installer.iss
