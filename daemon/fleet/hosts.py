"""What a host is: a name, where it answers, which engine it runs, and what it may be told."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

HostKind = Literal["ollama", "llamacpp", "llama-swap", "lmstudio", "vllm", "openai"]
KINDS: tuple[HostKind, ...] = ("ollama", "llamacpp", "llama-swap", "lmstudio", "vllm", "openai")
# Engines whose loads and unloads Roundhouse may drive; the rest manage their own memory and
# are only read (vLLM, Ray Serve, GPUStack, any other OpenAI-compatible server).
DRIVEN_KINDS: frozenset[str] = frozenset({"ollama", "llamacpp", "llama-swap"})
RESERVED_NAMES = frozenset({"embedded", "local", "cloud", "this-machine"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
IN_PROCESS = "in-process"  # the url of the embedded model's host


def key_name(host: str) -> str:
    """The keyring entry of a host's API key."""
    return f"host:{host}"


class HostSettings(BaseModel):
    """One host. `memory_gb` is what it may hold when its engine does not report memory
    (Ollama, llama.cpp and llama-swap do not); `max_loaded` how many models it keeps at once."""

    name: str
    url: str
    kind: HostKind = "ollama"
    local: bool = True  # on the user's own network: private requests may go there
    memory_gb: float | None = Field(default=None, gt=0)
    max_loaded: int | None = Field(default=None, ge=1)
    parallel: int = Field(default=1, ge=1)
    has_key: bool = False  # an API key for it is in the keyring (as `host:<name>`)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip().lower()
        if not _NAME.match(value):
            raise ValueError(
                "a host name is 1-40 lowercase letters, digits or '-', starting with a letter or digit"
            )
        if value in RESERVED_NAMES or value.startswith("ollama"):
            raise ValueError(f"'{value}' is reserved for a built-in backend; choose another name")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a host URL is http:// or https:// with a host name, not {value!r}")
        if parts.query or parts.fragment:
            raise ValueError("a host URL has no query or fragment")
        if parts.username or parts.password:  # it would land in the database and the logs
            raise ValueError("a host URL carries no user or password; give the host an API key instead")
        return value.removesuffix("/v1")

    @property
    def driven(self) -> bool:
        return self.kind in DRIVEN_KINDS

    @property
    def on_this_machine(self) -> bool:
        return self.url == IN_PROCESS or (urlsplit(self.url).hostname or "") in LOOPBACK

    @property
    def api_base(self) -> str:
        """Where its OpenAI-compatible API lives (Ollama's own API for Ollama)."""
        return self.url if self.kind == "ollama" else self.url + "/v1"
