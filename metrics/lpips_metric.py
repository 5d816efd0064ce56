"""LPIPS (Zhang et al. 2018), AlexNet trunk, version 0.1, through the `lpips` package.

The calibrated linear layers ship inside the lpips package (lpips/weights/v0.1/alex.pth). The
AlexNet trunk would normally be downloaded by torchvision; here it is built empty
(`pnet_rand=True`) and filled from the offline file alexnet-owt-7be5be79.pth. If that file is
missing, LPIPS is reported as missing: a random trunk is never used for reported numbers.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from inpaint_bench.harness.weights import WeightsMissing, find_weight, missing_message
from inpaint_bench.models.pretrained import load_state_dict


def load_alexnet_trunk(model: nn.Module, state: dict) -> None:
    """Copy torchvision AlexNet weights into an lpips.LPIPS(net="alex") trunk (strict).

    lpips.pretrained_networks.alexnet splits torchvision's `alexnet().features` into
    slice1..slice5 but keeps each layer's index as its module name, so trunk key
    "slice<k>.<i>.<param>" is torchvision key "features.<i>.<param>".
    """
    features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    mapped = {}
    for name in model.net.state_dict():
        layer_key = name.split(".", 1)[1]  # drop "slice<k>."
        if layer_key not in features:
            raise ValueError(f"AlexNet weight file has no 'features.{layer_key}' (needed for LPIPS)")
        mapped[name] = features[layer_key]
    unused = set(features) - {name.split(".", 1)[1] for name in mapped}
    if unused:
        raise ValueError(f"unexpected AlexNet feature weights {sorted(unused)}; is this torchvision's AlexNet?")
    model.net.load_state_dict(mapped, strict=True)


def build_lpips(weights_dir=None, device="cpu", required: bool = False) -> nn.Module | None:
    """lpips.LPIPS(alex, v0.1) with the trunk loaded offline; None (or WeightsMissing) if absent."""
    import lpips

    path = find_weight("alexnet", weights_dir)
    if path is None:
        if required:
            raise WeightsMissing(missing_message("alexnet", weights_dir)[1])
        return None
    with warnings.catch_warnings():
        # lpips calls torchvision with the deprecated `pretrained=` argument; harmless here.
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    load_alexnet_trunk(model, load_state_dict(path))
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(device)


class LPIPSMetric:
    """Per-image LPIPS of [0,1] images. `net` is an lpips.LPIPS (or a test stand-in with the
    same call signature `net(in0, in1, normalize=True) -> (N,1,1,1)`)."""

    def __init__(self, net: nn.Module):
        self.net = net.eval()

    @torch.no_grad()
    def __call__(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        param = next(self.net.parameters(), None)
        device = param.device if param is not None else pred.device
        pred, gt = pred.float().to(device), gt.float().to(device)
        with torch.autocast(device_type=device.type, enabled=False):
            # normalize=True maps [0,1] to the [-1,1] range LPIPS was calibrated on.
            dist = self.net(pred, gt, normalize=True)
        return dist.reshape(pred.shape[0]).float()
