"""A cloud image model through litellm, priced from litellm's own price map."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from roundhouse.daemon.backends.base import BackendError, short_message
from roundhouse.daemon.secrets import Secrets

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CloudImages:
    images: list[bytes]
    cost_usd: float
    revised_prompt: str | None = None


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def price(model: str, *, quality: str, size: str, n: int) -> float:
    """What `n` images cost by litellm's price map; 0 (and a log line) for a model it lacks."""
    from litellm import cost_calculator

    provider = provider_of(model)
    native = model.split("/", 1)[1] if "/" in model else model
    try:
        return float(
            cost_calculator.default_image_cost_calculator(
                model=native, custom_llm_provider=provider, quality=quality, n=n, size=size
            )
        )
    except Exception as exc:  # litellm raises a bare Exception for a model it has no price for
        log.warning("images: no price for %s at %s/%s in litellm's map (%s)", model, quality, size, exc)
        return 0.0


async def generate(
    model: str,
    prompt: str,
    *,
    n: int,
    size: str,
    quality: str,
    secrets: Secrets,
    api_base: str | None,
    timeout_s: float,
) -> CloudImages:
    import litellm

    provider = provider_of(model)
    key = secrets.get(provider)
    if not key:
        raise BackendError(
            f"no API key stored for {provider}: run `roundhoused keys set {provider}`",
            status=401,
            kind="missing_key",
        )
    args: dict[str, object] = {
        "model": model,
        "prompt": prompt,
        "n": n,
        "size": size,
        "api_key": key,
        "timeout": timeout_s,
    }
    if not model.split("/")[-1].startswith("gpt-image"):
        args["response_format"] = "b64_json"  # gpt-image models always answer with base64
    else:
        args["quality"] = quality
    if api_base:
        args["api_base"] = api_base
    try:
        response = await litellm.aimage_generation(**args)
    except Exception as exc:
        status = int(getattr(exc, "status_code", 0) or 502)
        said = short_message(str(exc).replace(key, "***")) or f"answered {status}"
        raise BackendError(
            f"cloud images: {said}", status=status, retryable=status == 429 or status >= 500
        ) from None
    images = [base64.b64decode(item.b64_json) for item in response.data or [] if item.b64_json]
    if not images:
        raise BackendError("cloud images: the provider answered without an image", kind="bad_upstream_answer")
    revised = next((item.revised_prompt for item in response.data if item.revised_prompt), None)
    return CloudImages(images, price(model, quality=quality, size=size, n=len(images)), revised)
