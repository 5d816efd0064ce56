"""What every package shares and nothing else: the config (loading, schema validation, defaults),
the layout of the results folder, hole-ratio buckets, seeding, atomic file writes and the resolved
job descriptions the workflow hands to training and evaluation. Imports neither torch nor Snakemake
at module level."""
