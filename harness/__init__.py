"""What every package shares and nothing else: the config (reading with `base:` inheritance, schema
validation, defaults), the layout of the results folder, hole-ratio buckets, seeding, atomic file
writes, job logs, the metric names and result columns, the published tables' reader and the lookup of
the pretrained weight files. Imports neither torch nor Snakemake at module level, and nothing of the
project above it.
"""
