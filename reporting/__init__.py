"""Paper-style tables, paired statistics and plots from the long-format result files.

Reads only result files (summary and per-image CSVs, training logs, sample images); never imports
`training/` or `models/`. Modules: `results` (reading the files), `cells` (mean ± std over seeds),
`absolute` and `ablation` (the two tables' models), `render` (a table model as md/tex/html/csv),
`tables` (writes both tables), `stats` (the paired bootstrap), `aggregate`, `plots`, `compare`,
`phrases` (words shared by tables, plots and captions), `html` (the report's pages).
"""
