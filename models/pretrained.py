"""Loading the pretrained weight files of the metrics and the training losses, once found
(harness.weights finds them, names a missing one and downloads it)."""
from __future__ import annotations

from pathlib import Path

import torch


def load_state_dict(path: str | Path) -> dict:
    """Load a weight file on CPU; weights_only because these files come from outside."""
    return torch.load(path, map_location="cpu", weights_only=True)


def vgg16_features(path: str | Path) -> torch.nn.Module:
    """torchvision VGG16 `.features` with the ImageNet weights of `path`, frozen and in eval mode; a
    randomly initialised VGG is never returned."""
    import torchvision  # only now: its import costs a job about 1.7 s (torch._dynamo), for nothing without the file
    state = load_state_dict(path)
    # The file holds the whole classifier network; only the convolutional part is needed.
    features_state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    # Build on the meta device (no memory, no slow random init of the 120M-parameter classifier),
    # then materialise only `.features`; the strict load below overwrites every parameter.
    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    features = features.to_empty(device="cpu")
    features.load_state_dict(features_state, strict=True)  # every conv layer must come from the file
    features.eval()
    for param in features.parameters():
        param.requires_grad_(False)
    return features
