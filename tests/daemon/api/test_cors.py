"""A page on an origin named in `[server] allowed_origins` may call the API from a browser."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningDaemon

APP = "https://chat.example.org"


@pytest.fixture
def rh(start_daemon) -> RunningDaemon:  # type: ignore[no-untyped-def]
    return start_daemon(server={"allowed_origins": [APP]})


def test_preflight_from_an_allowed_origin_is_answered(rh: RunningDaemon) -> None:
    asked = "Authorization, Content-Type, X-Stainless-OS, openai-beta, x-not-ours"
    preflight = httpx.options(
        rh.url + "/v1/chat/completions",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"authorization", "content-type", "x-stainless-os", "openai-beta"}
    assert int(preflight.headers["access-control-max-age"]) > 0
    assert "Origin" in preflight.headers["vary"]


def test_answers_name_an_allowed_origin_and_no_other(rh: RunningDaemon) -> None:
    answer = httpx.get(rh.url + "/v1/models", headers={"Origin": APP})
    assert answer.status_code == 200 and answer.json()["data"]
    assert answer.headers["access-control-allow-origin"] == APP
    assert "x-roundhouse-request-id" in answer.headers["access-control-expose-headers"]
    # Any other origin gets none: a foreign one is refused, another local page may not read.
    foreign = httpx.options(
        rh.url + "/v1/chat/completions",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert foreign.status_code == 403
    assert not any(name.startswith("access-control-") for name in foreign.headers)
    local_page = httpx.get(rh.url + "/v1/models", headers={"Origin": "http://localhost:3000"})
    assert local_page.status_code == 200  # the guard lets it through, but its scripts may not read it
    assert "access-control-allow-origin" not in local_page.headers
    no_origin = httpx.get(rh.url + "/v1/models")
    assert "access-control-allow-origin" not in no_origin.headers
