"""Does the daemon's memory settle under a long mixed load? A real `roundhoused serve` (its own
ROUNDHOUSE_HOME) behind an OpenAI-compatible stand-in upstream on loopback takes N requests of
four kinds in turn: a chat from a small set (so the cache answers the repeats), an embedding,
a model list (`/v1/models` or `/api/tags`) and a streamed chat closed after its first chunk.
The daemon's RSS is sampled every 1,000 requests; the bench prints it after the warm-up, at
the end, the growth between them, and every unexpected status.

    .venv/bin/python bench/soak.py [--requests 20000] [--clients 4] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.standins.openai_server import OpenAIStandin
from tests.standins.runner import free_port

KINDS = ("cached_chat", "embedding", "models", "cancelled_stream")
REPEATED_PROMPTS = 50


def write_config(home: Path, upstream: OpenAIStandin) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        "[residency]\nenabled = false\n"
        "[ollama]\ndiscover_local = false\n"
        "[routing]\nknn = false\n"
        f'[[openai_compat]]\nname = "up"\nbase_url = "{upstream.url}"\n'
    )


def start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROUNDHOUSE_HOME": str(home), "ROUNDHOUSE_LOG_LEVEL": "warning"}
    roundhoused = Path(sys.executable).parent / "roundhoused"
    proc = subprocess.Popen(
        [str(roundhoused), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the daemon did not become ready")


def embedding_model(client: httpx.Client) -> str | None:
    for model in client.get("/v1/models").json()["data"]:
        if "embed" in model["id"].lower() or "minilm" in model["id"].lower():
            return str(model["id"])
    return None


def one(client: httpx.Client, kind: str, n: int, embedder: str | None) -> int:
    if kind == "cached_chat":
        body = {
            "model": "up/gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Tell me fact number {n % REPEATED_PROMPTS}."}],
            "temperature": 0,
        }
        return client.post("/v1/chat/completions", json=body).status_code
    if kind == "embedding" and embedder is not None:
        body = {"model": embedder, "input": f"soak sentence {n % 200} about trains"}
        return client.post("/v1/embeddings", json=body).status_code
    if kind == "models" or kind == "embedding":
        return client.get("/v1/models" if n % 2 else "/api/tags").status_code
    body = {
        "model": "up/gpt-4o-mini",
        "messages": [{"role": "user", "content": f"Stream story {n} please."}],
        "stream": True,
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        for _ in response.iter_bytes():
            break  # the client goes away after the first chunk
        return response.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--sample-every", type=int, default=1_000)
    args = parser.parse_args()

    reply = " ".join(f"word{i}" for i in range(40))
    with OpenAIStandin(models=["gpt-4o-mini"], reply=reply, token_delay_s=0.002) as upstream:
        home = Path(tempfile.mkdtemp(prefix="rh-soak-"))
        write_config(home, upstream)
        port = free_port()
        proc = start(home, port)
        daemon = psutil.Process(proc.pid)
        url = f"http://127.0.0.1:{port}"
        counter = itertools.count()
        lock = threading.Lock()
        errors: dict[str, int] = {}
        samples: list[tuple[int, float]] = []
        done = [0]
        try:
            with httpx.Client(base_url=url, timeout=30) as probe:
                embedder = embedding_model(probe)
            print(f"embedding model: {embedder or 'none listed (embedding turns list models instead)'}")

            def client_loop() -> None:
                with httpx.Client(base_url=url, timeout=30) as client:
                    while (n := next(counter)) < args.requests:
                        kind = KINDS[n % len(KINDS)]
                        try:
                            status = one(client, kind, n, embedder)
                            bad = None if 200 <= status < 300 else f"{kind} {status}"
                        except httpx.HTTPError as exc:
                            bad = f"{kind} {type(exc).__name__}"
                        with lock:
                            if bad:
                                errors[bad] = errors.get(bad, 0) + 1
                            done[0] += 1
                            if done[0] % args.sample_every == 0:
                                samples.append((done[0], daemon.memory_info().rss / 2**20))

            started = time.monotonic()
            threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    with sqlite3.connect(home / "data" / "roundhouse.db") as db:
        ledger = db.execute(
            "SELECT endpoint, cache, status, COUNT(*) FROM requests GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    print("ledger (endpoint, cache, status, rows):", ", ".join(" ".join(map(str, row)) for row in ledger))
    for count, rss in samples:
        print(f"{count:>7} requests  RSS {rss:8.1f} MiB")
    warm = next((rss for count, rss in samples if count >= args.warmup), samples[0][1])
    end = samples[-1][1]
    growth = (end - warm) / warm * 100
    print(
        f"{args.requests} requests in {elapsed:.0f} s ({args.requests / elapsed:.0f}/s), "
        f"{args.clients} clients"
    )
    print(
        f"RSS after warm-up ({args.warmup}): {warm:.1f} MiB, at the end: {end:.1f} MiB, "
        f"growth {growth:+.1f} %"
    )
    print(f"errors: {sum(errors.values())} {errors or ''}")
    met = growth < 10 and not errors
    print(f"goal (< 10 % growth after warm-up, 0 errors): {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
