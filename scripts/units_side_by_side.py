"""The README example's per-unit record, this checkout against an older one, in one run.

Times the 106 units of the "Watching a network learn" MLP (64-64-32-10 on digits, trained one
epoch, N = 400 train probes, ``MatrixRenyi(sigma_x="alignment")``) four ways, each in its own
process, alternating, for several rounds:

- ``old-eigh``: the older checkout's ``unit_solver="eigh"`` (its exact path);
- ``default``: this checkout's default (low-rank S(T), S(T,Y) with stated bounds);
- ``floor``: this checkout's exact S(X,T) spectra alone, on matrices built before the clock
  starts (no exact S(X,T) can be faster);
- ``eigh``: this checkout's exact path.

It prints each call's minimum and median (seconds), the ratios of the minima, and the largest
difference in bits between the older exact values and each of this checkout's.

Usage (the older checkout from ``git worktree add /tmp/old <commit>``)::

    .venv/bin/python scripts/units_side_by_side.py /tmp/old/src [--rounds 2] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
N = 400
MODES = ("old-eigh", "default", "floor", "eigh")


def worker(mode: str, reps: int, out: str) -> None:
    """Time one mode ``reps`` times in this process, with the benchmark suite's own case
    (``readme-units`` against its exact path or its floor); write the times and values to ``out``."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import case_readme_units

    ours, other, _, _ = case_readme_units(N, "floor" if mode == "floor" else "exact")
    timed = ours if mode == "default" else other
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        values = timed()
        times.append(time.perf_counter() - t0)
    Path(out).write_text(json.dumps({"times": times, "values": values}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_src", type=Path, help="the older checkout's src folder")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5, help="timed calls per process")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.reps, args.out)
        return
    if not (args.old_src / "infoscope" / "__init__.py").is_file():
        parser.error(f"{args.old_src} holds no infoscope package (give the older checkout's src folder)")
    with tempfile.TemporaryDirectory() as tmp:
        rows: list[dict] = []
        for r in range(args.rounds):
            row = {}
            for mode in MODES:
                out = os.path.join(tmp, f"{mode}-{r}.json")
                src = args.old_src if mode == "old-eigh" else SRC
                env = {**os.environ, "PYTHONPATH": str(src.resolve())}
                subprocess.run([sys.executable, __file__, str(args.old_src), "--worker", mode,
                                "--reps", str(args.reps), "--out", out], env=env, check=True)
                row[mode] = json.loads(Path(out).read_text())
                t = row[mode]["times"]
                print(f"round {r + 1} {mode:>8}: min {min(t):.3f} s, median {statistics.median(t):.3f} s", flush=True)
            m = {mode: min(row[mode]["times"]) for mode in MODES}
            print(f"round {r + 1}: old exact / default {m['old-eigh'] / m['default']:.1f}×, "
                  f"default / floor {m['default'] / m['floor']:.2f}×, "
                  f"10× would need {m['old-eigh'] / 10:.3f} s", flush=True)
            rows.append(row)
    old = rows[-1]["old-eigh"]["values"]
    for mode in ("default", "eigh"):
        new = rows[-1][mode]["values"]
        print(f"{len(old)} values: largest |old exact - {mode}| = {max(abs(a - b) for a, b in zip(old, new)):.2e} bits")


if __name__ == "__main__":
    main()
