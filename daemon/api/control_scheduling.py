"""Control API of scheduling: queue depth, concurrency and whether agents are paused."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/control/v1/scheduling", tags=["scheduling"])


@router.get("")
async def stats(request: Request) -> dict[str, Any]:
    rh = request.app.state.rh
    scheduler = getattr(rh, "scheduler", None)
    flights = getattr(rh, "flights", None)
    embedder = getattr(rh, "embedder", None)
    return {
        "queues": scheduler.stats() if hasattr(scheduler, "stats") else {"enabled": False},
        "single_flight": flights.stats() if hasattr(flights, "stats") else {"enabled": False},
        "embedding_batches": embedder.batch_stats() if hasattr(embedder, "batch_stats") else {},
        # "onnx" (ONNX Runtime on an export of the packaged weights), "torch", or None before first use
        "embedding_engine": getattr(embedder, "engine", None),
    }
