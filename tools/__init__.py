"""Commands run on finished runs, each as `python -m tools.NAME`: measure, summarize, compare_runs, tune,
classifier; and restore, which run_main.py --restore calls."""
