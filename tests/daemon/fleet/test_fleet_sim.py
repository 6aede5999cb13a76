"""The fleet simulator: Roundhouse's placement against round-robin and per-host Ollama, same trace."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.fleet_sim import Kill, TraceRow, main, simulate, synthetic_trace


def test_roundhouse_loads_fewer_models_than_round_robin_on_the_same_trace() -> None:
    results = simulate(synthetic_trace(random.Random(3), users=6, minutes=20))
    assert results["roundhouse"].loads < results["round-robin"].loads
    assert all(r.failed == 0 and r.served == r.requests for r in results.values())


def test_a_dead_host_fails_its_queue_under_round_robin_and_roundhouse_places_it_elsewhere() -> None:
    # A burst of one model, 20 s answers, so the biggest host has a queue when it dies at 15 s.
    trace = [TraceRow(float(i), f"user{i % 3}", "chat-5g", 20.0) for i in range(12)]
    results = simulate(trace, kill=Kill("big", 15.0), detect_s=5.0)
    round_robin, per_host, ours = results["round-robin"], results["per-host"], results["roundhouse"]
    assert round_robin.failed > 0
    assert per_host.failed > 0
    assert ours.failed == 0
    assert ours.replaced > 0
    # What was streaming from the dead host is lost; everything else is answered.
    assert ours.served + ours.lost_mid_stream == ours.requests


def test_with_a_host_killed_roundhouse_fails_no_request_that_had_not_started() -> None:
    trace = synthetic_trace(random.Random(5), users=9, minutes=20)
    ours = simulate(trace, kill=Kill("big", trace[-1].t * 0.4))["roundhouse"]
    assert ours.failed == 0
    assert ours.served + ours.lost_mid_stream == ours.requests


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_same_seed_gives_the_same_result_and_a_written_trace_replays_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace_file = tmp_path / "trace.jsonl"
    first = run_json(capsys, "--seed", "7", "--minutes", "15", "--write-trace", str(trace_file))
    again = run_json(capsys, "--seed", "7", "--minutes", "15")
    replayed = run_json(capsys, "--trace", str(trace_file))
    assert first == again
    for run in ("no_failure", "host_killed"):
        assert replayed[run] == first[run]
    assert set(first["goals"]) == {"loads_40pct_fewer", "p95_2x_lower", "no_failed_when_a_host_dies"}
    assert first["host_killed"]["roundhouse"]["failed"] == 0
