"""One verdict per prompt, whatever the path: `roundhoused route --explain` (run twice), the
control API's explain and check, and a real chat request's recorded decision all find the
same private kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningDaemon
from tests.daemon.test_cli import run

PROMPTS = [
    "git push says 403; my token is ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789, what scope is missing?",
    "celery broker_url = 'redis://:S3cure-cache!@cache.internal:6379/1' keeps dropping tasks",
    "Patient: Willfried Holt\nDOB: 24/08/2004\nDiagnosis: epilepsy\nSummarise this record.",
]


@pytest.fixture(autouse=True)
def _examples_embedded_once(shipped_index: object) -> None:
    """Daemons in this process reuse the shipped examples' vectors instead of re-encoding."""


@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_path_finds_the_same_private_kinds(
    rh_home: Path, start_daemon: Callable[..., RunningDaemon], prompt: str
) -> None:
    cli = []
    for _ in range(2):
        result = run("route", "--explain", prompt, env={"ROUNDHOUSE_OLLAMA__DISCOVER_LOCAL": "false"})
        assert result.returncode == 0, result.stderr
        cli.append(json.loads(result.stdout)["signals"]["privacy"])
    rh = start_daemon(residency={"enabled": False})
    api = rh.url + "/control/v1/routing"
    checked = httpx.post(api + "/privacy/check", json={"text": prompt}).json()["found"]
    explained = [
        httpx.post(api + "/explain", json={"prompt": prompt}).json()["signals"]["privacy"] for _ in range(2)
    ]
    body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], "max_tokens": 2}
    answer = httpx.post(rh.url + "/v1/chat/completions", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    (decision,) = httpx.get(api + "/decisions").json()["decisions"]
    assert decision["private"] is True
    assert checked, "the detector finds nothing in it"
    assert cli == [checked, checked]
    assert explained == [checked, checked]
    assert decision["signals"]["privacy"] == checked
