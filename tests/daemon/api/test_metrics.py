"""GET /metrics on a real daemon: Prometheus' own parser reads it, and the counters move with requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningDaemon

CHAT_MODEL = "local/smollm2-135m"


def scrape(rh: RunningDaemon) -> dict[str, list[tuple[dict[str, str], float]]]:
    answer = httpx.get(rh.url + "/metrics", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if labels.items() <= got.items())


def test_counters_move_with_requests(start_daemon: Callable[..., RunningDaemon]) -> None:
    rh = start_daemon(residency={"enabled": False}, routing={"knn": False})
    before = scrape(rh)
    assert total(before, "roundhouse_requests_total") == 0
    assert total(before, "roundhouse_build_info") == 1
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 5}
    for _ in range(2):
        assert httpx.post(rh.url + "/v1/chat/completions", json=body, timeout=120).status_code == 200
    refused = httpx.post(rh.url + "/v1/chat/completions", json={**body, "model": "no-such-model"}, timeout=30)
    assert refused.status_code == 404
    rh.rows()  # the answers' events are out once their rows are queued

    after = scrape(rh)
    ok = {"dialect": "openai", "route": "local", "backend": "embedded", "app": "unknown", "status": "200"}
    assert total(after, "roundhouse_requests_total", **ok) == 2
    assert total(after, "roundhouse_requests_total", status="404") == 1
    assert total(after, "roundhouse_request_duration_seconds_count", **ok) == 2
    assert total(after, "roundhouse_overhead_seconds_count", dialect="openai") == 3
    assert total(after, "roundhouse_time_to_first_token_seconds_count", backend="embedded") == 2
    assert total(after, "roundhouse_tokens_total", direction="completion", backend="embedded") > 0
    assert total(after, "roundhouse_cache_results_total") == 3
    assert "roundhouse_queue_depth" in after and "roundhouse_budget_spent_usd" in after


def test_an_app_token_may_not_read_metrics(start_daemon: Callable[..., RunningDaemon]) -> None:
    rh = start_daemon(residency={"enabled": False})
    token = rh.daemon.tokens.create("editor", "app")
    answer = httpx.get(rh.url + "/metrics", headers={"authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 403
    foreign = httpx.get(rh.url + "/metrics", headers={"origin": "http://127.0.0.1:1"}, timeout=30)
    assert foreign.status_code == 403
