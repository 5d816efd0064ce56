"""Image datasets (mini, Places2, CelebA, Paris StreetView, folders, file lists) and masks.

Images are float32 RGB tensors in [0, 1] (CHW per sample); masks are float32 (1, H, W) with
1 = hole, 0 = known. See datasets/images.py, datasets/mini.py and datasets/masks.py; every image
and mask file is decoded by datasets/imagefile.py (8-bit, 16-bit and float files, binary masks).

The names below are imported lazily (PEP 562 __getattr__): importing the package does not import
its submodules, so `python -m datasets.mini` / `python -m datasets.masks` run without runpy's
"found in sys.modules" warning.
"""

import importlib

_EXPORTS = {
    "KNOWN_KINDS": "datasets.images",
    "ImageDataset": "datasets.images",
    "build_dataset": "datasets.images",
    "check_dataset": "datasets.images",
    "MINI_KINDS": "datasets.mini",
    "build_mini_dataset": "datasets.mini",
    "DEFAULT_BUCKETS": "datasets.masks",
    "TrainMaskSampler": "datasets.masks",
    "StrokeMaskSampler": "datasets.masks",
    "FolderMaskSampler": "datasets.masks",
    "build_train_masks": "datasets.masks",
    "official_stroke_mask": "datasets.masks",
    "random_square": "datasets.images",
    "bucket_mask": "datasets.masks",
    "free_form_mask": "datasets.masks",
    "hole_ratio": "datasets.masks",
    "import_nvidia_masks": "datasets.masks",
    "load_test_masks": "datasets.masks",
    "make_test_masks": "datasets.masks",
    "nvidia_mask_set": "datasets.masks",
    "read_mask": "datasets.imagefile",
    "read_rgb": "datasets.imagefile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'datasets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
