import os

import pytest
import torch

torch.set_num_threads(1)  # tiny test models: one thread is faster; `make test` runs two test workers


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Unit tests never touch the user's run store."""
    monkeypatch.setenv("GROKKIT_CACHE", str(tmp_path / "cache"))
    yield


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


def pytest_configure(config):
    os.environ.setdefault("GROKKIT_PROFILE", "ci")
