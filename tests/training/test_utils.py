from __future__ import annotations

import os
import subprocess
import sys

import pytest

from training.errors import ConfigError
from training.utils import atomic_output, sweep_stale_temps, temp_prefix


def test_stale_temporaries_of_dead_processes_are_swept_live_ones_kept(tmp_path):
    target = tmp_path / "out.txt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    mine = tmp_path / f"{temp_prefix(target)}abc.tmp"
    stale = tmp_path / mine.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-")
    stale_dir = tmp_path / f"{stale.name}.d"
    other = tmp_path / ".out.txt.something-else.tmp"  # not ours: never touched
    for p in (mine, stale, other):
        p.write_text("x")
    stale_dir.mkdir()
    assert sorted(sweep_stale_temps(target)) == sorted([stale, stale_dir])
    assert mine.exists() and other.exists() and not stale.exists() and not stale_dir.exists()


def test_atomic_output_refuses_overwrite_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "o.txt"
    target.write_text("old")
    with pytest.raises(ConfigError, match="output exists"):
        with atomic_output(target, overwrite=False):
            pass
    with pytest.raises(RuntimeError):
        with atomic_output(target) as fh:
            fh.write("partial")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["o.txt"]
