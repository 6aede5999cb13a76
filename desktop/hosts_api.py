"""Where the daemon keeps its fleet hosts in the control API, and what an added host is sent as."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

HOSTS = "/control/v1/hosts"
# The engines a host may run, as the daemon names them and as people know them.
KINDS: dict[str, str] = {
    "ollama": "Ollama",
    "llamacpp": "llama.cpp server",
    "llama-swap": "llama-swap",
    "lmstudio": "LM Studio",
    "vllm": "vLLM",
    "openai": "Other OpenAI-compatible server",
}
# Where each engine listens unless told otherwise, for the URL field's example.
DEFAULT_PORTS: dict[str, int] = {
    "ollama": 11434,
    "llamacpp": 8080,
    "llama-swap": 8080,
    "lmstudio": 1234,
    "vllm": 8000,
    "openai": 8000,
}
ORIGINS: dict[str, str] = {
    "config": "Set in config.toml; remove it there.",
    "built-in": "Found on this machine by Roundhouse itself; it cannot be removed.",
    "added": "Added here or with `roundhoused hosts add`.",
}


def host_path(name: str) -> str:
    return f"{HOSTS}/{quote(name, safe='')}"


def example_url(kind: str) -> str:
    return f"http://gpu-box.local:{DEFAULT_PORTS.get(kind, 8000)}"


def rows_of(data: Any) -> list[dict[str, Any]]:
    hosts = data.get("hosts") if isinstance(data, dict) else None
    return [h for h in hosts if isinstance(h, dict)] if isinstance(hosts, list) else []


def removable(row: dict[str, Any]) -> bool:
    return row.get("origin") == "added"


def add_body(
    name: str, url: str, kind: str, *, api_key: str = "", memory_gb: float = 0.0, local: bool = True
) -> dict[str, Any]:
    """The POST body for a new host; optional fields only when the user gave them."""
    body: dict[str, Any] = {"name": name.strip(), "url": url.strip(), "kind": kind, "local": local}
    if api_key.strip():
        body["api_key"] = api_key.strip()
    if memory_gb > 0:
        body["memory_gb"] = memory_gb
    return body
