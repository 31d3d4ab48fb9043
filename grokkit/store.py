"""Run store: finished runs keyed by a hash of everything that determines them, written atomically.

Default location ~/.cache/grokkit, overridden by the GROKKIT_CACHE environment variable or the
`root` argument. GROKKIT_CACHE=off disables caching everywhere (fit(store="auto") then stores nothing).

Layout: `<root>/<key[:2]>/<key>.pt` (finished runs), `<key>.partial` (resume snapshots), `<key>.lock`
(advisory locks, present only while held), `.tmp-*` (writes in flight), `<name>.corrupt-<time>-<pid>`
(damaged files moved aside for inspection).

File format: a 48-byte header, then the `torch.save` bytes (the payload):
    magic b"GKSTORE1" | payload length (uint64, little endian) | sha256 of the payload (32 raw bytes)
Files without the magic are legacy (written before checksums): they still load, checked by the CRC32s of
their zip members.

The store degrades, it never kills a run: an unusable store (the path is a file, cannot be created, or
is not readable) makes `resolve` warn once and return None; a read-only one still loads but saves
nothing; a failed save or snapshot (permissions, full disk, any OSError) warns once per cause and
returns None; a damaged file is reported in one warning line, moved aside, and treated as absent.
Warnings are `RunStoreWarning`s.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import inspect
import io
import json
import os
import struct
import tempfile
import threading
import time
import warnings
import zipfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from . import __version__

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, atomic replace still holds
    fcntl = None

MAGIC = b"GKSTORE1"
_HEADER = struct.Struct("<8sQ32s")  # magic, payload length, sha256(payload)
_FIX = "point GROKKIT_CACHE at a writable directory, or set GROKKIT_CACHE=off to run without a store"


class RunStoreWarning(UserWarning):
    """The run store could not be used as asked; the run goes on (without caching that result)."""


class StoreUnavailable(OSError):
    """RunStore(path) on a path that cannot hold a store (a file, not creatable, not readable)."""


_warned: set = set()


def _warn_once(what: tuple, message: str) -> None:
    if what in _warned:
        return
    _warned.add(what)
    warnings.warn(message, RunStoreWarning, stacklevel=3)


def _cause(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        name = errno.errorcode.get(e.errno, str(e.errno))
        return f"{name}: {e.strerror or os.strerror(e.errno)}"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]


def default_root() -> Path | None:
    env = os.environ.get("GROKKIT_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", "false"):
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "grokkit"


def pack(payload: bytes | memoryview) -> bytes:
    """The header that precedes `payload` in a store file."""
    return _HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest())


def unpack(data: bytes) -> tuple[str | None, memoryview]:
    """(problem or None, payload) of a store file's bytes. Legacy files (no header) are checked by their zip
    CRCs; their payload is the whole file."""
    view = memoryview(data)
    if data[: len(MAGIC)] == MAGIC:
        if len(data) < _HEADER.size:
            return f"truncated ({len(data)} bytes, shorter than the {_HEADER.size}-byte header)", view
        _, length, digest = _HEADER.unpack_from(data)
        payload = view[_HEADER.size:]
        if len(payload) < length:
            return f"truncated ({len(payload)} of {length} bytes)", payload
        if len(payload) > length:
            return f"{len(payload) - length} unexpected bytes after the contents", payload
        if hashlib.sha256(payload).digest() != digest:
            return "checksum mismatch (the contents' sha256 differs from the stored one)", payload
        return None, payload
    if not data:
        return "empty file", view
    if data[:4] != b"PK\x03\x04":
        return "not a run-store file (no checksum header, not a torch zip archive)", view
    try:  # legacy file: torch.save's zip archive, whose members carry CRC32s
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return f"legacy file (no checksum), not a whole zip archive ({_cause(e)})", view
    if bad is not None:
        return f"legacy file (no checksum), CRC mismatch in {bad}", view
    return None, view


# ---- advisory locks ------------------------------------------------------------------------------
_BUSY = -1
_held: dict[str, int] = {}  # lock path -> depth, for locks this process holds (claims are re-entrant)
_held_guard = threading.Lock()
if hasattr(os, "register_at_fork"):  # a forked child holds none of its parent's claims
    os.register_at_fork(after_in_child=_held.clear)


class RunStore:
    """A directory of runs keyed by `config_key(...)`; see the module docstring for the layout and format.

    RunStore(root) raises StoreUnavailable when root cannot hold a store; `resolve` turns that into a warning.
    A store on a directory it cannot write to is read-only (`writable` False, `problem` says why): stored
    runs load, saves return None.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        if self.root is None:
            raise ValueError("caching is switched off (GROKKIT_CACHE=off); pass store=None instead")
        self.writable, self.problem = True, None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.listdir(self.root)
        except (FileExistsError, NotADirectoryError):
            what = "is not a directory" if self.root.exists() else "is under a file, not a directory"
            raise StoreUnavailable(f"run store {self.root} is unusable: it {what}; {_FIX}") from None
        except OSError as e:
            raise StoreUnavailable(f"run store {self.root} is unusable ({_cause(e)}); {_FIX}") from None
        try:  # can we write here? (os.access is wrong for root, ACLs and read-only mounts)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".tmp-probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            self.writable, self.problem = False, f"read-only ({_cause(e)})"

    # ---- paths
    def path(self, key: str, suffix: str = ".pt") -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except OSError:
            return False

    def keys(self) -> list[str]:
        """Finished runs (`<key>.pt`); snapshots, locks, temp files and moved-aside files are not runs."""
        try:
            return sorted(p.name[:-3] for p in self.root.glob("*/*.pt") if not p.name.startswith("."))
        except OSError:
            return []

    # ---- read
    def load(self, key: str, suffix: str = ".pt") -> Any | None:
        """The stored object, or None when absent. A damaged or unreadable file is reported in one
        RunStoreWarning line, moved aside to `<name>.corrupt-<time>-<pid>`, and treated as absent."""
        path = self.path(key, suffix)
        for _ in range(3):  # retried only when another writer replaced a damaged file while we looked at it
            st = None
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    data = f.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as e:
                problem = f"unreadable ({_cause(e)})"
            else:
                problem, payload = unpack(data)
                if problem is None:
                    try:
                        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
                    except Exception as e:  # whole bytes that do not unpickle (e.g. a class that is gone)
                        problem = f"does not load ({_cause(e)})"
            if not self._quarantine(path, st, problem):
                return None
        return None

    def verify(self, key: str, suffix: str = ".pt") -> str | None:
        """None when the entry is whole (checksum matches; legacy files: zip CRCs match), else what is wrong
        ("missing", "truncated ...", "checksum mismatch ...", "unreadable ..."). Reads, never moves."""
        try:
            data = self.path(key, suffix).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        except OSError as e:
            return f"unreadable ({_cause(e)})"
        return unpack(data)[0]

    def check(self) -> list[tuple[Path, str]]:
        """[(path, problem)] for every damaged run or snapshot in the store (empty when all are whole)."""
        out = []
        try:
            files = sorted(p for ext in ("pt", "partial") for p in self.root.glob(f"*/*.{ext}")
                           if not p.name.startswith("."))
        except OSError as e:
            return [(self.root, f"unreadable ({_cause(e)})")]
        for p in files:
            problem = self.verify(p.stem, p.suffix)
            if problem is not None and problem != "missing":  # missing: deleted since the listing
                out.append((p, problem))
        return out

    def quarantined(self) -> list[Path]:
        """Damaged files moved aside by `load` (kept for inspection; delete them when done)."""
        try:
            return sorted(self.root.glob("*/*.corrupt-*"))
        except OSError:
            return []

    def _quarantine(self, path: Path, st: os.stat_result | None, problem: str) -> bool:
        """Move a damaged file aside and warn; True (and no warning) when another writer has replaced it since
        it was read, so that the caller reads the new file."""
        now = time.time()
        stamp = f"{time.strftime('%Y%m%dT%H%M%S', time.localtime(now))}.{int(now % 1 * 1e6):06d}-{os.getpid()}"
        dest = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            if st is not None:
                cur = os.stat(path)
                if (cur.st_ino, cur.st_dev) != (st.st_ino, st.st_dev):
                    return True
            os.rename(path, dest)
            where = f"moved aside to {dest.name}"
        except FileNotFoundError:
            where = "already moved aside by another process"
        except OSError as e:
            where = f"could not be moved aside ({_cause(e)})"
        warnings.warn(f"run store: {path}: {problem}; {where}; recomputing", RunStoreWarning, stacklevel=3)
        return False

    # ---- write
    def save(self, key: str, obj: Any, suffix: str = ".pt") -> Path | None:
        """Atomic: header + payload to a temp file in the same folder, fsync, then rename over the target, so a
        reader sees the old file or the new one, never a mix. Returns the path, or None when the store
        could not take it (read-only, full disk, any OSError): that warns once per cause, and the temp
        file is removed. Concurrent saves of one key are harmless: the last rename wins, whole."""
        what = "the resume snapshot" if suffix == ".partial" else "the run"
        if not self.writable:
            _warn_once((str(self.root), "readonly"), self._readonly_message())
            return None
        buf = io.BytesIO()
        torch.save(obj, buf)
        payload = buf.getbuffer()
        path = self.path(key, suffix)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
            with os.fdopen(fd, "wb") as f:
                f.write(pack(payload))
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except OSError as e:
            later = ("training goes on, an interruption restarts from the last good snapshot" if suffix == ".partial"
                     else "the result is returned in memory but not cached")
            _warn_once((str(self.root), suffix, e.errno),
                       f"run store {self.root}: could not save {what} {key[:12]} ({_cause(e)}); {later}. "
                       f"Free space or fix permissions, or {_FIX}")
            return None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return path

    def delete(self, key: str, suffix: str = ".pt") -> None:
        """Remove an entry if present; a failure to remove warns once and is otherwise ignored."""
        try:
            self.path(key, suffix).unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            _warn_once((str(self.root), "delete", e.errno),
                       f"run store {self.root}: could not delete {key[:12]}{suffix} ({_cause(e)})")

    def _readonly_message(self) -> str:
        return (f"run store {self.root} is {self.problem}: stored runs load, new ones are not saved; "
                f"make it writable, or {_FIX}")

    # ---- many writers
    @contextlib.contextmanager
    def claim(self, key: str, *, blocking: bool = True, timeout: float | None = None) -> Iterator[bool]:
        """Advisory per-key lock (fcntl.flock on `<key>.lock`), so that processes sharing a store do not
        train the same key twice:

            with rs.claim(key) as got:      # waits while another process holds key
                run = rs.load(key)          # ... then finds its result here
                if run is None:
                    run = train(); rs.save(key, run)

        Yields True when this process holds the key, False when another process does and `blocking` is
        False or `timeout` seconds passed (the caller may wait, skip, or train anyway: a duplicate save is
        harmless). Yields True without a lock where locks are unavailable (no fcntl, a filesystem that
        refuses flock, a read-only store): work may then be duplicated, never corrupted. Re-entrant
        within a process (a nested claim of a held key yields True at once). Works across machines where
        the shared filesystem supports flock (NFSv4, Lustre, CephFS; not every NFSv3 setup). The lock
        file is removed on release; a process that dies releases its locks.
        """
        lockpath = self.path(key, ".lock")
        ident = str(lockpath)
        with _held_guard:
            nested = ident in _held
            if nested:
                _held[ident] += 1
        if nested:
            try:
                yield True
            finally:
                with _held_guard:
                    _held[ident] -= 1
            return
        fd = self._acquire(lockpath, blocking, timeout)
        if fd == _BUSY:
            yield False
            return
        if fd is None:  # no lock to be had: proceed (duplicates stay harmless)
            yield True
            return
        with _held_guard:
            _held[ident] = 0
        try:
            yield True
        finally:
            with _held_guard:
                _held.pop(ident, None)
            with contextlib.suppress(OSError):
                os.unlink(lockpath)  # while still holding it: a waiter then sees a new inode and retries
            os.close(fd)

    def _acquire(self, lockpath: Path, blocking: bool, timeout: float | None) -> int | None:
        """An fd holding an exclusive flock on lockpath, _BUSY, or None where locking is unavailable."""
        if fcntl is None or not self.writable:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                lockpath.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(lockpath, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:
                _warn_once((str(self.root), "lock", e.errno),
                           f"run store {self.root}: cannot create lock files ({_cause(e)}); same-config runs in "
                           "other processes may repeat work (results stay whole)")
                return None
            try:
                if blocking and deadline is None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                else:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if not blocking or time.monotonic() >= deadline:
                    return _BUSY
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay = min(2 * delay, 0.2)
                continue
            except OSError as e:  # ENOLCK, ENOTSUP...: this filesystem does not lock
                os.close(fd)
                _warn_once((str(self.root), "lock", e.errno),
                           f"run store {self.root}: file locks unavailable ({_cause(e)}); same-config runs in "
                           "other processes may repeat work (results stay whole)")
                return None
            except BaseException:
                os.close(fd)
                raise
            try:  # the previous holder may have unlinked the file between our open and our lock
                same = os.fstat(fd).st_ino == os.stat(lockpath).st_ino
            except OSError:
                same = False
            if same:
                return fd
            os.close(fd)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r}{'' if self.writable else ', read-only'})"


def resolve(store) -> RunStore | None:
    """store="auto" -> the default store (None if switched off); a path -> RunStore(path); a RunStore as is.

    Never raises for an unusable location: it warns once (RunStoreWarning naming the path, the cause and the
    fix) and returns None, so the run goes on without a store. A read-only directory gives a read-only store
    (warned once): stored runs load, new ones are not saved."""
    if store is None or store is False:
        return None
    if isinstance(store, RunStore):
        return store
    if isinstance(store, str) and store == "auto" or store is True:
        root = default_root()
        if root is None:
            return None
    else:
        root = store
    try:
        rs = RunStore(root)
    except StoreUnavailable as e:
        _warn_once((str(root), "unusable"), f"{e}. Running without it.")
        return None
    if not rs.writable:
        _warn_once((str(rs.root), "readonly"), rs._readonly_message())
    return rs


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
