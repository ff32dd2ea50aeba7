"""Benchmarks run by ``make bench``: figures are ratios measured side by side in one run."""
