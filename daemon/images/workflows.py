"""ComfyUI workflows in API format: load the bundled ones and fill in a request's values.

`text_to_image.json` is ComfyUI's default workflow as its own API example ships it
(script_examples/basic_api_example.py): CheckpointLoaderSimple, two CLIPTextEncode, EmptyLatentImage,
KSampler, VAEDecode, SaveImage. Nodes are found by class_type and by the links between them, never by
node id, so a user's export of the same graph (with other ids) fills the same way.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

Workflow = dict[str, Any]

# ComfyUI's own limits for these inputs (nodes.py: MAX_RESOLUTION, EmptyLatentImage's step of 8,
# KSampler's seed range).
MIN_SIDE = 16
MAX_SIDE = 16384
SIDE_STEP = 8
MAX_SEED = 0xFFFFFFFFFFFFFFFF
MAX_STEPS = 10000


class WorkflowError(ValueError):
    """A workflow lacks the nodes a request needs, or a value cannot go into it."""


def load_workflow(name: str = "text_to_image") -> Workflow:
    """A bundled workflow from resources/workflows/, as a fresh dict."""
    path = resources.files("roundhouse.resources") / "workflows" / f"{name}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowError(f"no bundled workflow named '{name}'") from None
    workflow = json.loads(text)
    if not isinstance(workflow, dict):
        raise WorkflowError(f"workflow '{name}' is not in ComfyUI's API format (a map of node ids)")
    return workflow


def nodes_of(workflow: Workflow, class_type: str) -> list[str]:
    """The ids of the nodes of one class, in the workflow's order."""
    return [
        node_id
        for node_id, node in workflow.items()
        if isinstance(node, dict) and node.get("class_type") == class_type
    ]


def sampler_seed(workflow: Workflow) -> int | None:
    """The seed of the workflow's one KSampler, if it has exactly one with a literal seed."""
    samplers = nodes_of(workflow, "KSampler")
    if len(samplers) != 1:
        return None
    seed = workflow[samplers[0]].get("inputs", {}).get("seed")
    return seed if isinstance(seed, int) else None


def fill(
    workflow: Workflow,
    *,
    prompt: str,
    negative_prompt: str,
    width: int,
    height: int,
    steps: int,
    seed: int,
    checkpoint: str | None = None,
    cfg: float | None = None,
    sampler: str | None = None,
) -> Workflow:
    """A copy of `workflow` with the request's values on the nodes that take them: the texts on the
    CLIPTextEncode nodes feeding the KSampler's positive and negative inputs, the size on the
    EmptyLatentImage feeding its latent, seed/steps (and cfg/sampler when given) on the KSampler,
    and the checkpoint on every CheckpointLoaderSimple."""
    _check_values(width=width, height=height, steps=steps, seed=seed)
    filled = copy.deepcopy(workflow)
    sampler_id = _one(filled, "KSampler")
    sampler_inputs = filled[sampler_id].setdefault("inputs", {})

    _linked(filled, sampler_id, "positive", "CLIPTextEncode")["text"] = prompt
    _linked(filled, sampler_id, "negative", "CLIPTextEncode")["text"] = negative_prompt
    latent = _linked(filled, sampler_id, "latent_image", "EmptyLatentImage")
    latent["width"] = width
    latent["height"] = height

    sampler_inputs["seed"] = seed
    sampler_inputs["steps"] = steps
    if cfg is not None:
        sampler_inputs["cfg"] = cfg
    if sampler is not None:
        sampler_inputs["sampler_name"] = sampler

    if checkpoint is not None:
        loaders = nodes_of(filled, "CheckpointLoaderSimple")
        if not loaders:
            raise WorkflowError("the workflow has no CheckpointLoaderSimple node to set the checkpoint on")
        for loader_id in loaders:
            filled[loader_id].setdefault("inputs", {})["ckpt_name"] = checkpoint
    return filled


def _check_values(*, width: int, height: int, steps: int, seed: int) -> None:
    for name, side in (("width", width), ("height", height)):
        if not MIN_SIDE <= side <= MAX_SIDE or side % SIDE_STEP:
            raise WorkflowError(
                f"{name} {side} is not possible: it must be a multiple of {SIDE_STEP} "
                f"from {MIN_SIDE} to {MAX_SIDE}"
            )
    if not 1 <= steps <= MAX_STEPS:
        raise WorkflowError(f"steps {steps} is not possible: it must be from 1 to {MAX_STEPS}")
    if not 0 <= seed <= MAX_SEED:
        raise WorkflowError(f"seed {seed} is not possible: it must be from 0 to {MAX_SEED}")


def _one(workflow: Workflow, class_type: str) -> str:
    found = nodes_of(workflow, class_type)
    if not found:
        raise WorkflowError(f"the workflow has no {class_type} node")
    if len(found) > 1:
        raise WorkflowError(f"the workflow has {len(found)} {class_type} nodes; it needs exactly one")
    return found[0]


def _linked(workflow: Workflow, node_id: str, input_name: str, class_type: str) -> dict[str, Any]:
    """The inputs of the node linked into `node_id`'s `input_name`, which must be a `class_type`."""
    link = workflow[node_id].get("inputs", {}).get(input_name)
    if not (isinstance(link, list) and len(link) == 2):
        raise WorkflowError(f"the KSampler's '{input_name}' input is not linked to a {class_type} node")
    source = workflow.get(str(link[0]))
    if not isinstance(source, dict) or source.get("class_type") != class_type:
        found = source.get("class_type") if isinstance(source, dict) else "nothing"
        raise WorkflowError(
            f"the KSampler's '{input_name}' input comes from {found}, not a {class_type} node"
        )
    return source.setdefault("inputs", {})
