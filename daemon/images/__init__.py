"""Image generation on a ComfyUI server: workflows and the client that runs them."""

from roundhouse.daemon.images.comfyui import ComfyUIClient, ComfyUIError, GeneratedImage
from roundhouse.daemon.images.workflows import WorkflowError, fill, load_workflow

__all__ = ["ComfyUIClient", "ComfyUIError", "GeneratedImage", "WorkflowError", "fill", "load_workflow"]
