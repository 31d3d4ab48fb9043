"""`make test` runs the notebook tests under `pytest -n 2 --dist loadgroup`: a notebook's ci execution and its replay
share an xdist group, so the replay reads the ci run made in the same worker. pytest 9.2 renamed the node id
attribute that pytest-xdist 3.8 rewrites, and loadgroup then silently scattered the groups: each replay that landed
in the other worker executed its notebook's ci profile a second time (05: 357 s instead of 32 s, measured in CI).
This checks the grouping itself, on a throwaway test file."""
import subprocess
import sys

import pytest

pytest.importorskip("xdist")

PROBE = '''
import os, pytest
DONE = {}
GROUPS = [pytest.param(n, id=n, marks=pytest.mark.xdist_group(n)) for n in "abcdef"]

@pytest.mark.parametrize("n", GROUPS)
def test_first(n):
    DONE[n] = os.getpid()

@pytest.mark.parametrize("n", GROUPS)
def test_second(n):
    assert DONE.get(n) == os.getpid(), f"group {n} was split across workers"
'''


def test_loadgroup_keeps_each_group_in_one_worker(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROBE)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
                        "no:cacheprovider", "test_probe.py"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "12 passed" in r.stdout, r.stdout[-2000:]
