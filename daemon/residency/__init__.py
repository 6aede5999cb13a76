"""GPU residency: read the GPU, estimate models, decide which to load, keep and evict."""

from roundhouse.daemon.residency.estimate import Estimate, choose_n_gpu_layers, estimate, gpu_layers_for
from roundhouse.daemon.residency.manager import ModelTooLarge, ResidencyManager

__all__ = [
    "Estimate",
    "ModelTooLarge",
    "ResidencyManager",
    "choose_n_gpu_layers",
    "estimate",
    "gpu_layers_for",
]
