"""Evaluation of a trained model on the fixed test masks (`evaluate`) and the export of the same test
pairs for another method (`export`). The metrics and the one evaluation loop they share with `score`
are metrics/."""
