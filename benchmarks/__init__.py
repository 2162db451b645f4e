"""Benchmarks: run with ``make bench ARGS="NAME [options]"`` or ``python -m benchmarks NAME``.

Each reports ratios measured side by side in one run; absolute times on a shared
2-core machine are noise, ratios are the claim.
"""
