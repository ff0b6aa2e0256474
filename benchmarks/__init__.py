"""Speed and memory benchmarks of infoscope against a plain reference, run in the same process tree.

Run ``python -m benchmarks`` from the repository root (``--quick`` for smaller sizes). Not
part of the test suite.
"""
