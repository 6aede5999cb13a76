"""Control API: stop the daemon (the tray's Stop / Restart for a daemon it did not start)."""

from __future__ import annotations

import ipaddress
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from roundhouse.daemon.api.common import daemon_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/control/v1/shutdown", tags=["Control"])


def _from_loopback(request: Request) -> bool:
    if request.client is None:
        return True
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.post("", status_code=202, summary="Stop the daemon gracefully; only from this machine")
async def shutdown(request: Request) -> JSONResponse:
    # An app token is not enough: only someone on this machine may stop the daemon.
    if not _from_loopback(request):
        raise HTTPException(status_code=403, detail="the daemon can be stopped only from this machine")
    stop = daemon_of(request).request_shutdown
    if stop is None:
        raise HTTPException(
            status_code=501, detail="this daemon runs inside another program and cannot stop itself"
        )
    log.info("stopping on request of the control API")
    # Run after the answer is sent, so the caller hears 202 before the server winds down.
    return JSONResponse({"status": "stopping"}, status_code=202, background=BackgroundTask(stop))
