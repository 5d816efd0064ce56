"""Image datasets (mini, Places2, CelebA, Paris StreetView, folders, file lists, CSV files; each kind
registered in kinds.py) and masks.

Images are float32 RGB tensors in [0, 1] (CHW per sample); masks are float32 (1, H, W) with
1 = hole, 0 = known. Images: images.py, mini.py. Masks: strokes.py (drawing), mask_sets.py (test
sets), mask_files.py (their files, mask folders), nvidia_masks.py, train_masks.py (training
samplers), mask_conventions.py (what they share). Files are decoded by imagefile.py.

The names below are imported lazily (PEP 562 __getattr__): importing the package does not import
its submodules, so a workflow job's code (jobs/code.py: its script's import closure) holds the modules
it uses only, and an edit of datasets/mini.py, say, does not re-run the training and evaluation jobs.
"""

import importlib

_EXPORTS = {
    "available_dataset_kinds": "inpaint_bench.datasets.kinds",
    "register_dataset_kind": "inpaint_bench.datasets.kinds",
    "ImageDataset": "inpaint_bench.datasets.images",
    "build_dataset": "inpaint_bench.datasets.images",
    "check_dataset": "inpaint_bench.datasets.images",
    "MINI_KINDS": "inpaint_bench.datasets.mini",
    "build_mini_dataset": "inpaint_bench.datasets.mini",
    "DEFAULT_BUCKETS": "inpaint_bench.datasets.mask_conventions",
    "hole_ratio": "inpaint_bench.datasets.mask_conventions",
    "BucketStrokeSampler": "inpaint_bench.datasets.train_masks",
    "OfficialStrokeSampler": "inpaint_bench.datasets.train_masks",
    "MaskFolderSampler": "inpaint_bench.datasets.train_masks",
    "build_train_masks": "inpaint_bench.datasets.train_masks",
    "official_stroke_mask": "inpaint_bench.datasets.strokes",
    "random_square": "inpaint_bench.datasets.images",
    "bucket_mask": "inpaint_bench.datasets.strokes",
    "free_form_mask": "inpaint_bench.datasets.strokes",
    "import_nvidia_masks": "inpaint_bench.datasets.nvidia_masks",
    "nvidia_mask_set": "inpaint_bench.datasets.nvidia_masks",
    "load_test_masks": "inpaint_bench.datasets.mask_sets",
    "bucket_pairs": "inpaint_bench.datasets.mask_sets",
    "make_test_masks": "inpaint_bench.datasets.mask_sets",
    "read_mask": "inpaint_bench.datasets.imagefile",
    "read_rgb": "inpaint_bench.datasets.imagefile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'datasets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
