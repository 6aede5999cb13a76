"""installer.iss has what a per-user, opt-in, cleanly removed install needs, and names only
files that the Windows build of packaging/roundhouse.spec produces."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import PureWindowsPath
from types import ModuleType

import pytest

from roundhouse.desktop import autostart
from tests.packaging import iss
from tests.packaging.conftest import ROOT

# Changing it would make Windows see an upgrade as a second, separate app.
STABLE_APP_ID = "{{98A2E46F-6356-4600-B6B4-D85604DFA556}"


@pytest.fixture(scope="module")
def script() -> iss.InnoScript:
    return iss.load(ROOT / "installer.iss")


def test_has_every_required_section(script: iss.InnoScript) -> None:
    for section in ("Setup", "Tasks", "Files", "Icons", "Registry", "Code"):
        assert script.sections.get(section), f"installer.iss has no [{section}] section"


def test_installs_per_user_without_admin_rights(script: iss.InnoScript) -> None:
    setup = script.setup()
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"] == r"{localappdata}\Programs\Roundhouse"
    assert "PrivilegesRequiredOverridesAllowed" not in setup


def test_app_id_is_stable(script: iss.InnoScript) -> None:
    assert script.setup()["AppId"] == STABLE_APP_ID


def test_setup_waits_for_the_mutex_the_tray_holds(script: iss.InnoScript, layout: ModuleType) -> None:
    assert layout.WINDOWS_APP_MUTEX in script.setup()["AppMutex"].split(",")


def test_start_menu_shortcut_starts_the_tray(script: iss.InnoScript, layout: ModuleType) -> None:
    shortcuts = script.entries("Icons")
    assert any(
        entry["Name"].startswith("{autoprograms}\\")
        and entry["Filename"] == "{app}\\" + layout.executable(layout.TRAY, "Windows")
        for entry in shortcuts
    )


def test_sign_in_task_is_offered_unchecked(script: iss.InnoScript) -> None:
    (task,) = [entry for entry in script.entries("Tasks") if entry["Name"] == "autostart"]
    assert task["Description"] == "Start Roundhouse when I sign in"
    assert "unchecked" in task["Flags"].split()


def test_sign_in_task_writes_the_value_the_tray_toggle_uses(
    script: iss.InnoScript, layout: ModuleType
) -> None:
    (run,) = [entry for entry in script.entries("Registry") if entry.get("Tasks") == "autostart"]
    assert run["Root"] == "HKCU"
    assert run["Subkey"] == autostart.RUN_KEY
    assert run["ValueName"] == autostart.RUN_VALUE == layout.WINDOWS_RUN_VALUE
    assert run["ValueData"] == '"{app}\\' + layout.executable(layout.TRAY, "Windows") + '"'
    assert "uninsdeletevalue" in run["Flags"].split()


def test_uninstaller_removes_the_autostart_value_whoever_wrote_it(script: iss.InnoScript) -> None:
    code = script.code()
    uninstall_step = code[code.index("usUninstall then") : code.index("usPostUninstall then")]
    deleted = re.findall(r"RegDeleteValue\(HKEY_CURRENT_USER,\s*'([^']+)',\s*'([^']+)'\)", uninstall_step)
    assert (autostart.RUN_KEY, autostart.RUN_VALUE) in deleted
    assert (autostart.STARTUP_APPROVED_KEY, autostart.RUN_VALUE) in deleted


def test_uninstaller_asks_before_deleting_user_data(script: iss.InnoScript) -> None:
    code = script.code()
    post = code[code.index("usPostUninstall then") :]
    assert "{localappdata}\\roundhouse" in code
    ask, delete = post.index("MsgBox("), post.index("DelTree(")
    assert ask < delete, "user data is deleted without asking"
    assert "= IDYES then" in post[ask:delete]
    assert "MB_DEFBUTTON2" in post[ask:delete], "'No' (keep the data) must be the default answer"
    assert "UninstallSilent()" in post[:delete]


def _bundle_relative(path: str, script: iss.InnoScript) -> str:
    """`dist\\roundhouse\\x\\y` (a [Files] Source) or `{app}\\x\\y` -> `x/y` in the build."""
    bundle = PureWindowsPath(script.defines["BundleDir"])
    windows_path = PureWindowsPath(path)
    if path.startswith("{app}"):
        return PureWindowsPath(*windows_path.parts[1:]).as_posix()
    assert windows_path.parts[: len(bundle.parts)] == bundle.parts, f"{path} is outside {bundle}"
    return PureWindowsPath(*windows_path.parts[len(bundle.parts) :]).as_posix()


def test_every_source_file_is_in_the_windows_build(script: iss.InnoScript, layout: ModuleType) -> None:
    built = layout.expected_files("Windows")
    assert script.defines["BundleDir"] == f"dist\\{layout.BUNDLE_NAME}"
    sources = [entry["Source"] for entry in script.entries("Files")]
    assert sources
    for source in sources:
        relative = _bundle_relative(source, script)
        assert any(fnmatch(name, relative) for name in built), f"{source} matches nothing the build makes"
    # Both executables are installed, and the folder they load everything from.
    installed = {_bundle_relative(source, script) for source in sources}
    assert set(layout.executables("Windows")) <= installed
    assert f"{layout.CONTENTS_DIR}/*" in installed


def test_every_installed_path_it_runs_is_in_the_windows_build(
    script: iss.InnoScript, layout: ModuleType
) -> None:
    built = set(layout.expected_files("Windows"))
    named = [script.setup()["UninstallDisplayIcon"]]
    named += [entry["Filename"] for entry in script.entries("Icons")]
    named += [entry["Filename"] for entry in script.entries("Run")]
    named += [entry["ValueData"].strip('"') for entry in script.entries("Registry")]
    for path in named:
        assert path.startswith("{app}\\"), path
        assert _bundle_relative(path, script) in built, f"{path} is not in the build"


def test_upgrade_clears_the_previous_bundle_folder(script: iss.InnoScript, layout: ModuleType) -> None:
    deletes = script.entries("InstallDelete")
    assert {"Type": "filesandordirs", "Name": "{app}\\" + layout.CONTENTS_DIR} in deletes


def test_default_version_is_the_package_version() -> None:
    from roundhouse.daemon import __version__

    text = (ROOT / "installer.iss").read_text(encoding="utf-8")
    assert f'#define AppVersion "{__version__}"' in text
