"""Runs the kernel tests once more with NUMBA_DISABLE_JIT=1, so the pure-Python path is covered.

Left out: this module, the threading tests (they test the compiled threading layer) and the
bad-input tests (they stop in the Python wrappers, which the normal run already covers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SKIPPED = {Path(__file__).name, "test_threading.py", "test_validation.py"}


def test_kernels_pass_without_jit():
    """The kernel test modules pass when Numba compiles nothing (small shapes keep it fast)."""
    modules = sorted(
        str(p.relative_to(ROOT)) for p in HERE.glob("test_*.py") if p.name not in SKIPPED
    )
    assert len(modules) >= 8
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
