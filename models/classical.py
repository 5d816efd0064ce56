"""Classical rows that need no training, with the same call convention as the networks:
``model(masked_image, mask) -> prediction`` (mask 1 = hole)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from inpaint_bench.models.registry import register_backbone


@register_backbone("mean_fill", trainable=False)
class MeanFill(nn.Module):
    """Fills the hole with the mean colour of the known pixels of the same image: the floor every
    learned method has to beat."""

    def __init__(self, width: int = 0):  # no weights: the width is accepted and unused
        super().__init__()

    def forward(self, masked_image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        known = 1.0 - mask.float()
        mean = (masked_image.float() * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(min=1)
        return masked_image.float() * known + mean * mask.float()


@register_backbone("biharmonic", trainable=False)
class Biharmonic(nn.Module):
    """scikit-image's biharmonic inpainting (Damelin & Hoang 2018) on the CPU: the images of a batch
    are solved side by side on as many threads as torch may use (the job's threads: its sparse solves
    release the GIL), each exactly as alone."""

    def __init__(self, width: int = 0):  # no weights: the width is accepted and unused
        super().__init__()

    def forward(self, masked_image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from skimage.restoration import inpaint_biharmonic

        images = masked_image.detach().float().cpu().permute(0, 2, 3, 1).numpy()
        holes = mask.detach().cpu().numpy()[:, 0] > 0.5
        def fill(img, hole):
            return inpaint_biharmonic(img, hole, channel_axis=-1) if hole.any() else img

        workers = min(torch.get_num_threads(), len(images))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                out = list(pool.map(fill, images, holes))
        else:
            out = [fill(img, hole) for img, hole in zip(images, holes)]
        pred = torch.from_numpy(np.clip(np.stack(out), 0, 1)).permute(0, 3, 1, 2).float()
        return pred.to(masked_image.device)
