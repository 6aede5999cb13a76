"""What half-open connections and one huge header cost the daemon, with its connection limits on
and (as good as) off. Loopback only, bounded: N sockets and one header of M MiB.

For each setting a fresh `roundhoused serve` (its own ROUNDHOUSE_HOME) is started; the bench
measures /health p50 on a quiet daemon, then opens N connections that send half a request head,
sends one header of M MiB that never ends (both from 127.0.0.2, a second peer), and measures
/health p50 from 127.0.0.1 again while they are open, with the daemon's RSS before and during.
`held` is how many of the N connections the daemon still keeps open at the end.

    .venv/bin/python bench/dos.py [--connections 200] [--header-mib 64] [--probes 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HALF_A_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
ATTACKER = "127.0.0.2"
OFF = {  # limits so loose that they never act: uvicorn's own behaviour
    "ROUNDHOUSE_SERVER__HEADER_TIMEOUT_S": "3600",
    "ROUNDHOUSE_SERVER__BODY_TIMEOUT_S": "3600",
    "ROUNDHOUSE_SERVER__MAX_HEADER_BYTES": str(1 << 34),
    "ROUNDHOUSE_SERVER__MAX_CONNECTIONS": "1000000",
    "ROUNDHOUSE_SERVER__MAX_CONNECTIONS_PER_PEER": "1000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def health_p50(port: int, probes: int) -> tuple[float, int]:
    """p50 of /health in ms, each on a new connection (as a new client would), and failures."""
    times, failures = [], 0
    for _ in range(probes):
        start = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            ok = answer.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        if ok:
            times.append((time.perf_counter() - start) * 1000)
        else:
            failures += 1
    return (statistics.median(times) if times else float("nan")), failures


def attack_socket(port: int) -> socket.socket:
    # From another loopback address, as a second machine would be: the cap is per peer.
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(ATTACKER, 0))


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b"x"  # never: the server sent nothing yet
    except BlockingIOError:
        return True
    except OSError:
        return False


def big_header(port: int, mib: int, sent: threading.Event, done: threading.Event) -> None:
    try:
        with attack_socket(port) as sock:
            sock.sendall(HALF_A_HEAD)
            for _ in range(mib):
                sock.sendall(b"a" * (1 << 20))
            sent.set()
            done.wait(120)  # hold it open, unfinished, while /health is measured
    except OSError:
        pass  # refused: the point of the limit
    finally:
        sent.set()


def one_setting(name: str, extra_env: dict[str, str], args: argparse.Namespace) -> list[str]:
    home = Path(tempfile.mkdtemp(prefix="rh-dos-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ROUNDHOUSE_HOME": str(home),
        "ROUNDHOUSE_LOG_LEVEL": "warning",
        "ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false",
        **extra_env,
    }
    roundhoused = Path(sys.executable).parent / "roundhoused"
    proc = subprocess.Popen(
        [str(roundhoused), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        quiet, _ = health_p50(port, args.probes)
        rss_before = rss_mib(proc.pid)
        for _ in range(args.connections):
            try:
                sock = attack_socket(port)
                sock.sendall(HALF_A_HEAD)
                held.append(sock)
            except OSError:
                break
        sent, done = threading.Event(), threading.Event()
        sender = threading.Thread(target=big_header, args=(port, args.header_mib, sent, done))
        sender.start()
        sent.wait(120)
        time.sleep(0.5)
        rss_during = rss_mib(proc.pid)
        loaded, failures = health_p50(port, args.probes)
        open_now = sum(still_open(sock) for sock in held)
        done.set()
        sender.join()
        return [
            f"{name:<8} {open_now:>5} {quiet:>10.2f} {loaded:>12.2f} {failures:>9} "
            f"{rss_before:>11.1f} {rss_during:>11.1f}"
        ]
    finally:
        for sock in held:
            sock.close()
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--header-mib", type=int, default=64)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    print(
        f"{args.connections} half-open connections and one unfinished {args.header_mib} MiB header, "
        f"/health over a new connection each time ({args.probes} probes)"
    )
    print(
        f"{'limits':<8} {'held':>5} {'quiet p50':>10} {'during p50':>12} {'failures':>9} "
        f"{'RSS MiB':>11} {'RSS during':>11}"
    )
    rows = one_setting("on", {}, args) + one_setting("off", OFF, args)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
