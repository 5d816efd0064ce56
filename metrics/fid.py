"""FID and KID between composites and ground truth, on Inception pool3 (2048-d) features.

Features: pytorch-fid's `InceptionV3` (the TF-FID port; it resizes inputs to 299x299 bilinearly and
maps [0,1] to [-1,1] itself) with the offline weights pt_inception-2015-12-05-6726825d.pth, extracted
once per image in float32 with autocast off and kept per bucket. torchmetrics' FID and KID (polynomial
kernel of degree 3, 100 subsets of min(n, 1000), drawn with a fixed seed) are fed the stored features
through a pass-through module (`PrecomputedFeatures`), so both see exactly the same features; FID
statistics accumulate in float64 and KID gets float64 features. Fewer than 2 images in either set:
NaN with a note saying why. FID is strongly biased at small n; always report n next to it.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from inpaint_bench.harness.fileio import atomic_write_bytes
from inpaint_bench.harness.weights import WeightsMissing, find_weight, missing_message
from inpaint_bench.models.pretrained import load_state_dict

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0


class InceptionPool3(nn.Module):
    """pytorch-fid InceptionV3 that returns (N, 2048) pool3 features for [0,1] images."""

    def __init__(self, inception: nn.Module):
        super().__init__()
        self.inception = inception

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.inception(images)[0].flatten(1)  # (N,2048,1,1) -> (N,2048)


def load_fid_inception(path) -> InceptionPool3:
    """Build pytorch-fid's FID Inception and load its weights from `path`, without network.

    `pytorch_fid.inception.fid_inception_v3` builds the FID-specific structure and then fetches
    the weights with `load_state_dict_from_url`. That one call is redirected to the local file
    for the duration of the build, so the structure and the (strict) loading stay the library's.
    """
    import pytorch_fid.inception as pfi

    state = load_state_dict(path)

    def offline_loader(url, *args, **kwargs):
        if url != pfi.FID_WEIGHTS_URL:
            raise RuntimeError(f"unexpected weight download requested: {url}")
        return state

    with mock.patch.object(pfi, "load_state_dict_from_url", offline_loader):
        net = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
    return InceptionPool3(net).eval()


def build_inception(weights_dir=None, device="cpu", required: bool = False) -> nn.Module | None:
    """FID Inception from the offline weight file; None (or WeightsMissing) when it is absent."""
    path = find_weight("inception", weights_dir)
    if path is None:
        if required:
            raise WeightsMissing(missing_message("inception", weights_dir)[1])
        return None
    model = load_fid_inception(path)
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(device)


def _module_device(module: nn.Module, fallback: torch.device) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else fallback


@torch.no_grad()
def extract_features(extractor: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, D) float32 CPU features of [0,1] images; any (N,D,1,1) output is flattened."""
    device = _module_device(extractor, images.device)
    images = images.float().to(device)
    with torch.autocast(device_type=device.type, enabled=False):
        feats = extractor(images)
    return feats.reshape(images.shape[0], -1).float().cpu()


class PrecomputedFeatures(nn.Module):
    """Pass-through 'feature extractor' for torchmetrics: its inputs already are features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features  # torchmetrics reads this instead of probing with an image

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two (N, D) feature sets, via torchmetrics' FrechetInceptionDistance."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=PrecomputedFeatures(real.shape[1]))
    metric.update(real.double().cpu(), real=True)
    metric.update(fake.double().cpu(), real=False)
    return float(metric.compute())


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = KID_SUBSETS,
                              subset_size: int = KID_SUBSET_SIZE, seed: int = KID_SEED) -> tuple[float, float]:
    """(KID mean, std over subsets) via torchmetrics' KernelInceptionDistance.

    The subset size is capped at the smaller set's size (torchmetrics requires subset_size <= n).
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, real.shape[0], fake.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features": intended
        metric = KernelInceptionDistance(feature=PrecomputedFeatures(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double().cpu(), real=True)
    metric.update(fake.double().cpu(), real=False)
    # Subsets are drawn with torch's global RNG: fix it locally for reproducible numbers.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def distribution_metrics(real: torch.Tensor, fake: torch.Tensor, kid_subsets: int = KID_SUBSETS,
                         kid_subset_size: int = KID_SUBSET_SIZE, seed: int = KID_SEED) -> tuple[dict[str, float], str]:
    """({"fid", "kid", "kid_std"}, note). NaN values with a note when either set has < 2 images."""
    n = min(real.shape[0], fake.shape[0])
    if n < 2:
        nan = math.nan
        return {"fid": nan, "kid": nan, "kid_std": nan}, f"n={n}: FID/KID need at least 2 images per set"
    kid, kid_std = kernel_inception_distance(real, fake, kid_subsets, kid_subset_size, seed)
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std}, ""


class FeatureCache:
    """Ground-truth Inception features kept on disk between evaluations.

    Every variant of a dataset is scored against the same test images, so their features need to be
    computed once. Entries are keyed by a hash of the image tensor itself (the input of the feature
    network), and the file records which network made them (`tag`, e.g. the weight file's name and
    size): a different network, image size or test image simply misses. The file is rewritten
    atomically, so parallel evaluations at worst compute the same features twice.
    """

    def __init__(self, path, tag: str):
        self.path, self.tag = Path(path), tag
        self.features: dict[str, torch.Tensor] = {}
        self.added = 0
        if self.path.is_file():
            try:
                stored = torch.load(self.path, map_location="cpu", weights_only=True)
            except Exception as err:  # a corrupt cache is recomputed, never trusted
                warnings.warn(f"{self.path}: unreadable feature cache ignored ({err})")
                stored = {}
            if stored.get("tag") == tag:
                self.features = dict(stored["features"])

    @staticmethod
    def key(image: torch.Tensor) -> str:
        data = image.detach().float().cpu().contiguous()
        return hashlib.sha256(str(tuple(data.shape)).encode() + data.numpy().tobytes()).hexdigest()

    def __call__(self, extractor: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """(N, D) features of `images`, computing only those not cached yet."""
        keys = [self.key(image) for image in images]
        todo = [i for i, k in enumerate(keys) if k not in self.features]
        if todo:
            fresh = extract_features(extractor, images[todo])
            for i, feature in zip(todo, fresh):
                self.features[keys[i]] = feature.clone()
            self.added += len(todo)
        return torch.stack([self.features[k] for k in keys])

    def save(self) -> None:
        if self.added:
            buffer = io.BytesIO()
            torch.save({"tag": self.tag, "features": self.features}, buffer)
            atomic_write_bytes(self.path, buffer.getvalue())
            self.added = 0
