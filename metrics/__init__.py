"""Evaluation metrics: PSNR/SSIM/L1 (torchmetrics), LPIPS (lpips), FID/KID (pytorch-fid Inception
features, torchmetrics distances): `pixel`, `protocols`, `lpips_metric`, `fid`, gathered by `suite`;
the one evaluation loop (`evaluation`) and the scoring of another method's files (`score`). The
pretrained weights they read are found by harness.weights and loaded by models.pretrained.

Everything is computed on the composite `pred*mask + gt*(1-mask)` (see `pixel.composite`).

The package itself imports nothing: a job that needs one metric module (training's validation) does
not pay for the others' imports (lpips, pytorch-fid); import the names from their modules.
"""
