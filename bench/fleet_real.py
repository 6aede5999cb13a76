"""The fleet on real engines: three llama.cpp servers (`llama_cpp.server`) on loopback, each
offering the same three models and holding one at a time (a request for another one makes the
server load it, for real). A short multi-user trace runs twice through a real daemon:

  round-robin  the fleet off; clients spread requests over the hosts in turn (`gpu-b/m2`, ...)
  roundhouse   the fleet on; clients ask for the model (`m2`) and the fleet picks the host

Loads are counted from the servers' own logs (one "loaded meta data" line per model load, the
start-up load not counted); wait is the time to the first streamed token. With `--kill`, the
second host is killed halfway through each run: requests that had not started streaming must
not fail.

    .venv/bin/python bench/fleet_real.py [--requests 36] [--users 3] [--seed 7] [--kill]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.standins.llama_server import LlamaServer
from tests.standins.runner import ThreadedServer

MODELS = ("m1", "m2", "m3")
HOSTS = ("gpu-a", "gpu-b", "gpu-c")
LOAD_LINE = "llama_model_loader: loaded meta data"


def trace(requests: int, users: int, seed: int) -> list[list[str]]:
    """Per user, the models it asks for in turn: mostly its favourite, sometimes another."""
    rng = random.Random(seed)
    per_user: list[list[str]] = [[] for _ in range(users)]
    for i in range(requests):
        user = i % users
        favourite = MODELS[user % len(MODELS)]
        per_user[user].append(favourite if rng.random() < 0.75 else rng.choice(MODELS))
    return per_user


def start_servers() -> list[LlamaServer]:
    servers = [LlamaServer(n_ctx=512, aliases=MODELS) for _ in HOSTS]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(LlamaServer.start, servers))
    return servers


def start_daemon(servers: list[LlamaServer], fleet: bool, home: Path) -> ThreadedServer:
    os.environ["ROUNDHOUSE_HOME"] = str(home)
    from roundhouse.daemon.api.server import create_app
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.cli import server_options
    from roundhouse.daemon.config import load_settings

    settings = load_settings(
        hosts=[
            {"name": name, "url": s.url, "kind": "openai", "max_loaded": 1}
            for name, s in zip(HOSTS, servers, strict=True)
        ],
        fleet={"enabled": fleet, "poll_s": 1.0},
        embedded={"enabled": False},
        ollama={"discover_local": False},
        cache={"enabled": False},
        residency={"enabled": False},
        routing={"knn": False},
        log_level="warning",
    )
    return ThreadedServer(create_app(Daemon(settings)), **server_options(settings.server)).start()


def one(url: str, model: str, prompt: str) -> tuple[float | None, str, bool]:
    """(seconds to the first token or None, host, whether it failed)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 12,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=300) as answer:
            host = answer.headers.get("x-roundhouse-route-backend", "")
            if answer.status_code != 200:
                return None, host, True
            done = False
            for line in answer.iter_lines():
                if first is None and '"content":"' in line:
                    first = time.perf_counter() - started
                done = done or line == "data: [DONE]"
            return first, host, not done
    except httpx.HTTPError:
        return first, "", True


def run(policy: str, per_user: list[list[str]], kill: bool) -> dict[str, Any]:
    servers = start_servers()
    home = Path(tempfile.mkdtemp(prefix=f"rh-fleet-{policy}-"))
    server = start_daemon(servers, fleet=policy == "roundhouse", home=home)
    total = sum(len(u) for u in per_user)
    sent = 0
    lock = threading.Lock()
    waits: list[float] = []
    failed_unstarted = failed_streaming = 0
    hosts: dict[str, int] = {}
    killed = threading.Event()

    def user(index: int, models: list[str]) -> None:
        nonlocal sent, failed_unstarted, failed_streaming
        for n, model in enumerate(models):
            with lock:
                sent += 1
                turn = sent
                if kill and turn == total // 2 and not killed.is_set():
                    killed.set()
                    servers[1].kill()
            name = model if policy == "roundhouse" else f"{HOSTS[turn % len(HOSTS)]}/{model}"
            first, host, failed = one(server.url, name, f"User {index} question {n}: name a colour.")
            with lock:
                hosts[host] = hosts.get(host, 0) + 1
                if failed and first is None:
                    failed_unstarted += 1
                elif failed:
                    failed_streaming += 1
                elif first is not None:
                    waits.append(first)

    try:
        with ThreadPoolExecutor(len(per_user)) as pool:
            list(pool.map(lambda pair: user(*pair), enumerate(per_user)))
        loads = sum(max(0, s.output().count(LOAD_LINE) - 1) for s in servers)
    finally:
        server.stop()
        for s in servers:
            s.stop()
    waits.sort()
    return {
        "policy": policy,
        "requests": total,
        "loads": loads,
        "p50_wait_s": round(statistics.median(waits), 3) if waits else None,
        "p95_wait_s": round(waits[min(len(waits) - 1, int(0.95 * len(waits)))], 3) if waits else None,
        "failed_not_started": failed_unstarted,
        "failed_mid_stream": failed_streaming,
        "per_host": dict(sorted(hosts.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=36)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kill", action="store_true", help="kill the second host halfway through")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    per_user = trace(args.requests, args.users, args.seed)
    print(
        f"fleet_real: --requests {args.requests} --users {args.users} --seed {args.seed}"
        + (" --kill" if args.kill else "")
    )
    results = [run(policy, per_user, args.kill) for policy in ("round-robin", "roundhouse")]
    if args.json:
        print(json.dumps(results, indent=2))
    columns = ("loads", "p50 wait", "p95 wait", "failed", "mid-stream")
    widths = (6, 9, 9, 7, 10)
    print(
        f"{'policy':<12} "
        + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
        + "  per host"
    )
    for r in results:
        print(
            f"{r['policy']:<12} {r['loads']:>6} {r['p50_wait_s']!s:>9} {r['p95_wait_s']!s:>9} "
            f"{r['failed_not_started']:>7} {r['failed_mid_stream']:>10}  {r['per_host']}"
        )
    rr, ours = results
    if rr["loads"]:
        print(f"loads: {100 * (1 - ours['loads'] / rr['loads']):.0f} % fewer than round-robin")
    if rr["p95_wait_s"] and ours["p95_wait_s"]:
        print(f"p95 wait: {rr['p95_wait_s'] / ours['p95_wait_s']:.2f}x lower than round-robin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
