"""Every command of the README, in its order, on a fresh clone, as a new user runs them.

The clone is of this checkout's committed state. The README's first command makes the clone's
own virtual environment (``.venv``), and every later command runs with it first on the PATH,
in the clone, one after another (later commands read what earlier ones wrote: ``runs.db``).

A few commands need what only a user has, or are this test's own runner; the table below
says for each what is expected instead, and nothing is left out silently: a README command
the table does not know runs and must succeed, and a table entry that no README command
matches fails the test (the README changed: say what to expect of the new command).

Slow (an hour or more on 2 cores: the quick reproductions, the benchmarks): run it with
``bash scripts/test.sh -m slow tests/test_readme_commands.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Seconds any one command may take.
TIMEOUT = 3600

#: What is expected of commands that cannot simply run here: (pattern, kind, why).
#: kinds: "skip" (not run, for the reason given), "refused" (must exit 2 with one ``error:`` line
#: naming what is missing), "extra" (runs, or is refused so where its extra is not installed),
#: "serve" (must answer HTTP, then is stopped), "gpu" (run on a GPU only).
SPECIAL = [
    (r"^bash scripts/test\.sh$", "skip", "the test command: this suite is its run"),
    (r"reproduce tishby-tanh --full", "skip", "the paper-sized run takes hours (thousands of epochs)"),
    (r"--data ~/data/cifar-10-batches-py", "refused", "CIFAR-10 is the user's own copy"),
    (r"--model mypackage\.models:build", "refused", "the user's own model and checkpoints"),
    (r"^infoscope serve ", "serve", "a server runs until stopped"),
    (r"--tensorboard", "extra", "needs the optional extra infoscope[tensorboard], which the README's install leaves out"),
    (r"scripts/gpu_check\.sh", "gpu", "CUDA tests"),
    (r"-m benchmarks --vgg", "gpu", "the VGG16 cases take their time on a CPU; on a GPU they are on by default"),
    (r"-m benchmarks\.report runs\.db --vgg16", "gpu", "reads a VGG16 record (made by the GPU check)"),
]


def readme_commands() -> list[str]:
    """The commands of the README's bash blocks, in order, comments and blank lines dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"^\s*```bash\n(.*?)^\s*```", text, flags=re.S | re.M):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                out.append(command)
    return out


def special(command: str) -> tuple[str, str] | None:
    for pattern, kind, why in SPECIAL:
        if re.search(pattern, command):
            return kind, why
    return None


def test_every_special_case_names_a_readme_command():
    commands = readme_commands()
    assert commands[0].startswith("python3 -m venv .venv") and commands[1] == "bash scripts/test.sh"
    for pattern, _, why in SPECIAL:
        assert any(re.search(pattern, c) for c in commands), f"no README command matches {pattern!r} ({why})"


def _serve(command: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8050/", timeout=5) as reply:
                    assert reply.status == 200 and b"<html" in reply.read(4096).lower()
                    return
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
                assert time.monotonic() < deadline, "infoscope serve did not answer within 2 minutes"
                time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_readme_commands_in_order_on_a_fresh_clone(tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to clone")
    clone = tmp_path / "infoscope"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # the Command line section's X.npy and Y.npy: the user's arrays; here a Gaussian pair
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    np.save(clone / "X.npy", x)
    np.save(clone / "Y.npy", x[:, :1] + 0.5 * rng.normal(size=(300, 1)))
    env = {**os.environ, "PATH": f"{clone / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    gpu = _has_cuda()
    report = []
    for command in readme_commands():
        kind, why = special(command) or ("run", "")
        if kind == "skip" or (kind == "gpu" and not gpu):
            report.append(f"not run: {command} ({why})")
            continue
        if kind == "serve":
            _serve(command, clone, env)
            report.append(f"answered: {command}")
            continue
        t0 = time.monotonic()
        done = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        said = (done.stdout + done.stderr)[-3000:]
        if kind == "refused" or (kind == "extra" and done.returncode != 0):
            assert done.returncode == 2, f"{command}: expected a refusal (exit 2), got {done.returncode}\n{said}"
            errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "Traceback" not in done.stderr, f"{command}: not one clear error line\n{said}"
            report.append(f"refused as expected ({why}): {command}: {errors[0]}")
        else:
            assert done.returncode == 0, f"{command} failed with exit code {done.returncode}\n{said}"
            report.append(f"ran in {time.monotonic() - t0:.0f} s: {command}")
    print("\n".join(report))
    assert (clone / "infoscope-demo.html").exists() and (clone / "report.html").exists()


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return bool(torch.cuda.is_available())


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(readme_commands()))
    sys.exit(0)
