"""Embedding throughput at 32 concurrent clients, with and without micro-batching.

    .venv/bin/python bench/batching.py [--clients 32] [--requests 8]

Two real daemons run side by side on loopback (FastAPI + uvicorn, the real
all-MiniLM-L6-v2): one whose embedder batches requests that arrive within a few
milliseconds, one that encodes each request on its own. Every client posts one sentence
per request to /v1/embeddings (aiohttp, in a process of its own so that the clients do not
share the daemons' GIL); the bench prints texts per second for each and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import uvicorn

MODEL = "local/all-minilm-l6-v2"


class Served:
    """A daemon app on a loopback port in a thread of its own."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.socket])), daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def daemon_app(batch_window_ms: float | None, home: str) -> Any:
    os.environ["ROUNDHOUSE_HOME"] = home
    from roundhouse.daemon.api.server import create_app
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.cache.embedder import Embedder
    from roundhouse.daemon.config import load_settings

    embedder = Embedder(batch_window_ms=batch_window_ms)
    embedder.load()
    settings = load_settings(
        ollama={"discover_local": False},
        residency={"enabled": False},
        # Embedding requests must reach the embedder concurrently to be batched at all.
        scheduling={"concurrency": {"embedded": 64}},
    )
    return create_app(Daemon(settings, embedder=embedder))


async def run_clients(url: str, clients: int, requests: int) -> float:
    import aiohttp

    sentences = [
        f"client {c} asks question {r}: how do I keep my sourdough starter alive?"
        for c in range(clients)
        for r in range(requests)
    ]

    async def client(c: int, http: aiohttp.ClientSession) -> None:
        for r in range(requests):
            body = {"model": MODEL, "input": sentences[c * requests + r]}
            async with http.post(url + "/v1/embeddings", json=body) as response:
                response.raise_for_status()
                assert len((await response.json())["data"][0]["embedding"]) == 384

    connector = aiohttp.TCPConnector(limit=clients * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(url + "/v1/embeddings", json={"model": MODEL, "input": "warm up"}) as warm:
            warm.raise_for_status()
        started = time.perf_counter()
        await asyncio.gather(*(client(c, http) for c in range(clients)))
        return clients * requests / (time.perf_counter() - started)


def clients_rate(url: str, clients: int, requests: int) -> float:
    """The clients, run in a process of their own so they do not share the daemon's GIL."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_clients_rate, url, clients, requests).result()


def _clients_rate(url: str, clients: int, requests: int) -> float:
    return asyncio.run(run_clients(url, clients, requests))


async def run_embedder(embedder: Any, clients: int, requests: int) -> float:
    """The same load straight on `Embedder.embed`, without HTTP in the way."""

    async def client(c: int) -> None:
        for r in range(requests):
            await embedder.embed([f"client {c} asks question {r}: how do I keep my sourdough starter alive?"])

    await embedder.embed(["warm up"])
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return clients * requests / (time.perf_counter() - started)


def compute_ceiling(embedder: Any, texts: int = 64) -> tuple[float, float]:
    """Texts per second on ONE thread, one text per call against `texts` per call: how much
    batching can gain per core before more cores come into it."""
    from roundhouse.daemon.cache.onnx_engine import OnnxEngine

    engine = embedder.onnx_engine
    if engine is None:
        return 0.0, 0.0
    one_thread = OnnxEngine(engine.model_dir, engine.path.parent, threads=1, parallel_min_texts=10**9)
    question = "how do I keep my sourdough starter alive?"
    sentences = [f"client {c} asks question {c % 8}: {question}" for c in range(texts)]
    one_thread.encode(sentences[:4])
    rates = []
    for batch in (1, texts):
        started = time.perf_counter()
        for _ in range(3):
            for i in range(0, texts, batch):
                one_thread.encode(sentences[i : i + batch])
        rates.append(3 * texts / (time.perf_counter() - started))
    one_thread.close()
    return rates[0], rates[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as plain_home, tempfile.TemporaryDirectory() as batched_home:
        plain_app = daemon_app(None, plain_home)
        batched_app = daemon_app(4.0, batched_home)
        with Served(plain_app) as plain, Served(batched_app) as batched:
            best = {"unbatched": 0.0, "batched": 0.0}
            for _ in range(args.rounds):
                best["unbatched"] = max(
                    best["unbatched"], clients_rate(plain.url, args.clients, args.requests)
                )
                best["batched"] = max(best["batched"], clients_rate(batched.url, args.clients, args.requests))
            stats = batched_app.state.rh.embedder.batch_stats()
            lone, batched_rate = compute_ceiling(batched_app.state.rh.embedder)
            direct = {"unbatched": 0.0, "batched": 0.0}
            for _ in range(args.rounds):
                for name, app in (("unbatched", plain_app), ("batched", batched_app)):
                    rate = asyncio.run(run_embedder(app.state.rh.embedder, args.clients, args.requests))
                    direct[name] = max(direct[name], rate)

    ratio = best["batched"] / best["unbatched"]
    print(f"{args.clients} clients × {args.requests} requests, one sentence each, POST /v1/embeddings")
    print(f"  without batching: {best['unbatched']:8.1f} texts/s")
    print(
        f"  with batching   : {best['batched']:8.1f} texts/s  "
        f"({stats['texts'] / max(1, stats['batches']):.1f} texts per batch)"
    )
    print(f"  ratio           : {ratio:.2f}×  (goal ≥ 4×): {'met' if ratio >= 4 else 'missed'}")
    direct_ratio = direct["batched"] / direct["unbatched"]
    print(f"{args.clients} concurrent callers of Embedder.embed in process (no HTTP)")
    print(f"  without batching: {direct['unbatched']:8.1f} texts/s")
    print(f"  with batching   : {direct['batched']:8.1f} texts/s")
    print(f"  ratio           : {direct_ratio:.2f}×")
    if lone:
        cores = os.cpu_count() or 1
        per_core = batched_rate / lone
        print("what batching can gain here, on one thread of ONNX Runtime:")
        print(f"  one text per call    : {lone:8.1f} texts/s")
        print(f"  64 texts per call    : {batched_rate:8.1f} texts/s  ({per_core:.2f}× per core)")
        print(
            f"  ceiling with {cores} cores  : about {per_core * cores:.1f}× a lone text on one core; "
            "a lone text per request already uses"
        )
        print("                         the arithmetic a batch would, so the rest must come from more cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
