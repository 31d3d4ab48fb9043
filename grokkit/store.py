"""Run store: finished runs keyed by a hash of everything that determines them, written atomically.

Default location ~/.cache/grokkit, overridden by the GROKKIT_CACHE environment variable or the
`root` argument. GROKKIT_CACHE=off disables caching everywhere (fit(store="auto") then stores nothing).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__


def default_root() -> Path | None:
    env = os.environ.get("GROKKIT_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", "false"):
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "grokkit"


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        if self.root is None:
            raise ValueError("caching is switched off (GROKKIT_CACHE=off); pass store=None instead")
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str, suffix: str = ".pt") -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        return self.path(key).exists()

    def load(self, key: str, suffix: str = ".pt") -> Any | None:
        path = self.path(key, suffix)
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # a corrupt file is treated as absent (it was never renamed into place whole)
            return None

    def save(self, key: str, obj: Any, suffix: str = ".pt") -> Path:
        """Atomic: write to a temp file in the same folder, then rename over the target."""
        path = self.path(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(obj, f)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def delete(self, key: str, suffix: str = ".pt") -> None:
        path = self.path(key, suffix)
        if path.exists():
            path.unlink()

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*/*.pt") if not p.name.startswith("."))

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"


def resolve(store) -> RunStore | None:
    """store="auto" -> the default store (None if switched off); a path -> RunStore(path)."""
    if store is None or store is False:
        return None
    if isinstance(store, RunStore):
        return store
    if store == "auto" or store is True:
        return RunStore() if default_root() is not None else None
    return RunStore(store)


# ---- hashing ------------------------------------------------------------------------------
def describe(obj: Any) -> Any:
    """A JSON-able description that changes whenever obj would change a run."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        return tensor_hash(obj)
    if isinstance(obj, dict):
        return {str(k): describe(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [describe(v) for v in obj]
    if hasattr(obj, "cache_key"):
        return describe(obj.cache_key() if callable(obj.cache_key) else obj.cache_key)
    if is_dataclass(obj) and not isinstance(obj, type):
        return {"__class__": type(obj).__qualname__, **describe(asdict(obj))}
    if callable(obj):
        fn = getattr(obj, "__func__", obj)
        try:
            src = inspect.getsource(fn)
        except (OSError, TypeError):
            src = repr(fn)
        closure = [describe(c.cell_contents) for c in (getattr(fn, "__closure__", None) or ())
                   if isinstance(c.cell_contents, (bool, int, float, str, tuple, list, dict, torch.Tensor))]
        return {"callable": getattr(fn, "__qualname__", repr(fn)), "source": _sha(src), "closure": closure}
    return repr(obj)


def tensor_hash(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{tuple(t.shape)}{t.dtype}".encode())
    h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:32]


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:32]


def config_key(**parts: Any) -> str:
    payload = json.dumps({"grokkit": __version__, **{k: describe(v) for k, v in parts.items()}}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
