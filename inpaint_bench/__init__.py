"""Reproducible benchmark and ablation harness for learned image inpainting (RFR-Net, DGI)."""
