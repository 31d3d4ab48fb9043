"""Fault injection for the run store: each case checks what the user sees (one warning line, the value
returned, the CLI's one line) and that nothing completed is lost."""
import contextlib
import errno
import io
import multiprocessing
import os
import random
import subprocess
import tempfile
import time
import traceback
import warnings

import pandas as pd
import pytest
import torch
from helpers import InterruptAt

from grokkit.cli import main
from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.store import MAGIC, RunStore, RunStoreWarning, StoreUnavailable, resolve
from grokkit.tasks import ModularTask, random_split
from grokkit.train import TrainConfig, fit

KEY = "ab" + "0" * 62
OTHER = "cd" + "1" * 62
MP = multiprocessing.get_context("fork")  # children only save/load small tensors: no OpenMP after fork


def _record(i: int = 0) -> dict:
    g = torch.Generator().manual_seed(i)
    return {"meta": {"n_members": 1, "steps_run": i, "wall_s": 0.1}, "w": torch.randn(64, 64, generator=g)}


def _same(a: dict, b: dict) -> bool:
    return a["meta"] == b["meta"] and torch.equal(a["w"], b["w"])


def _one_line(rec) -> str:
    """The single RunStoreWarning in `rec`, checked to be one line."""
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunStoreWarning)]
    assert len(msgs) == 1, msgs
    assert "\n" not in msgs[0]
    return msgs[0]


@contextlib.contextmanager
def _no_store_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunStoreWarning)
        yield


def _leftovers(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file() and (p.name.startswith(".tmp-")
                                                                      or p.name.endswith(".lock")))


# ---- tiny training task ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    task = ModularTask(p=13, operation="add")
    split = random_split(task, 0.5, seed=0)
    return Data(task.inputs("pairs"), task.y, split.train, split.test)


def _mlp():
    return build(EmbedMLPConfig(p=13, d_emb=32, d_hidden=16), n_members=1, seeds=[0])


CFG = TrainConfig(steps=50, eval_every=10)


@pytest.fixture(scope="module")
def reference(data):
    return fit(_mlp(), data, CFG, store=None, progress=False)


# ---- integrity ---------------------------------------------------------------------------------
def test_garbled_run_file_is_reported_moved_aside_and_recomputed(cache_dir):
    rs = RunStore(cache_dir)
    rs.save(OTHER, _record(1))
    path = rs.save(KEY, _record(0))
    raw = bytearray(path.read_bytes())
    assert raw[:len(MAGIC)] == MAGIC
    mid = len(raw) // 2  # inside the tensor's bytes
    for i in random.Random(0).sample(range(mid - 256, mid + 256), 8):
        raw[i] ^= 0xFF
    path.write_bytes(raw)
    # without the checksum these bytes would load as a valid (wrong) tensor
    assert not torch.equal(torch.load(io.BytesIO(bytes(raw[48:])), weights_only=False)["w"], _record(0)["w"])
    assert "checksum mismatch" in rs.verify(KEY)

    with pytest.warns(RunStoreWarning) as rec:
        assert rs.load(KEY) is None
    msg = _one_line(rec)
    assert str(path) in msg and "checksum mismatch" in msg and "recomputing" in msg
    assert not path.exists()
    (aside,) = rs.quarantined()
    assert aside.name.startswith(f"{KEY}.pt.corrupt-") and aside.name in msg
    assert aside.read_bytes() == raw  # kept for inspection, byte for byte
    assert rs.keys() == [OTHER]  # the moved-aside file is not a run; the other run is untouched
    assert _same(rs.load(OTHER), _record(1))
    rs.save(KEY, _record(0))  # recomputed: whole again, the damaged copy still kept
    assert _same(rs.load(KEY), _record(0)) and rs.quarantined() == [aside]


def test_damaged_file_replaced_by_another_writer_meanwhile_loads_the_new_one(cache_dir, monkeypatch):
    from grokkit import store as store_mod

    rs = RunStore(cache_dir)
    path = rs.save(KEY, _record(0))
    path.write_bytes(path.read_bytes()[:100])  # damaged
    real = store_mod.unpack

    def unpack_while_another_writer_saves(data):
        monkeypatch.setattr(store_mod, "unpack", real)
        RunStore(cache_dir).save(KEY, _record(7))  # lands between our read and our move-aside
        return real(data)

    monkeypatch.setattr(store_mod, "unpack", unpack_while_another_writer_saves)
    with _no_store_warnings():
        assert _same(rs.load(KEY), _record(7))  # the good file is neither moved aside nor ignored
    assert rs.quarantined() == [] and rs.verify(KEY) is None


@pytest.mark.parametrize("keep, what", [(0.5, "truncated ("), (10, "truncated ("), (0, "empty file")])
def test_truncated_run_file(cache_dir, keep, what):
    rs = RunStore(cache_dir)
    path = rs.save(KEY, _record(0))
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.warns(RunStoreWarning) as rec:
        assert rs.load(KEY) is None
    msg = _one_line(rec)
    assert what in msg and str(path) in msg and "recomputing" in msg
    assert not path.exists() and len(rs.quarantined()) == 1


def test_legacy_files_without_checksum_still_load_and_are_crc_checked(cache_dir):
    rs = RunStore(cache_dir)
    path = rs.path(KEY)
    path.parent.mkdir(parents=True)
    torch.save(_record(0), path)  # the format before checksums
    with _no_store_warnings():
        assert rs.verify(KEY) is None and _same(rs.load(KEY), _record(0))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(raw)
    with pytest.warns(RunStoreWarning) as rec:
        assert rs.load(KEY) is None
    assert "CRC mismatch" in _one_line(rec)



def test_garbled_snapshot_is_not_resumed(data, reference, cache_dir):
    rs = RunStore(cache_dir)
    with pytest.raises(KeyboardInterrupt):
        fit(_mlp(), data, CFG, store=rs, progress=False, after_step=[InterruptAt(30)])
    (snap,) = cache_dir.glob("*/*.partial")
    raw = bytearray(snap.read_bytes())
    for i in random.Random(1).sample(range(len(raw) // 3, len(raw)), 16):
        raw[i] ^= 0x55
    snap.write_bytes(raw)
    with pytest.warns(RunStoreWarning) as rec:
        run = fit(_mlp(), data, CFG, store=rs, progress=False, after_step=[InterruptAt(-1)])
    msg = _one_line(rec)
    assert snap.name in msg and "checksum mismatch" in msg and "recomputing" in msg
    assert run.meta["resumed_from"] is None  # restarted from step 0 instead of resuming garbage
    pd.testing.assert_frame_equal(run.history, reference.history)
    assert [p.name.split(".corrupt-")[0] for p in rs.quarantined()] == [snap.name]
    with _no_store_warnings():
        assert rs.check() == [] and rs.load(run.key) is not None


# ---- unusable, read-only, full -----------------------------------------------------------------
@pytest.mark.parametrize("under", [False, True], ids=["file", "path-under-a-file"])
def test_cache_on_a_file_warns_once_and_runs_without_store(tmp_path, monkeypatch, data, reference, under):
    f = tmp_path / "cachefile"
    f.write_text("not a directory")
    target = f / "sub" if under else f
    monkeypatch.setenv("GROKKIT_CACHE", str(target))
    with pytest.raises(StoreUnavailable, match="not a directory"):
        RunStore()
    with pytest.warns(RunStoreWarning) as rec:
        assert resolve("auto") is None
        assert resolve(str(target)) is None
    msg = _one_line(rec)  # once
    assert str(target) in msg and "not a directory" in msg and "GROKKIT_CACHE=off" in msg
    with _no_store_warnings():  # already said: fit trains without a store, silently
        run = fit(_mlp(), data, CFG, store="auto", progress=False)
    assert not run.meta["loaded_from_store"]
    pd.testing.assert_frame_equal(run.history, reference.history)
    assert f.read_text() == "not a directory"


def _raise(err):
    def f(*a, **k):
        raise OSError(err, os.strerror(err))
    return f


def test_read_only_store_still_loads_and_saves_nothing(cache_dir, monkeypatch, data, reference):
    rs = RunStore(cache_dir)
    rs.save(OTHER, _record(1))
    monkeypatch.setattr(tempfile, "mkstemp", _raise(errno.EROFS))  # nothing can be created under the root
    with pytest.warns(RunStoreWarning) as rec:
        ro = resolve(cache_dir)
    msg = _one_line(rec)
    assert str(cache_dir) in msg and "read-only (EROFS" in msg and "GROKKIT_CACHE=off" in msg
    assert not ro.writable
    with _no_store_warnings():
        assert _same(ro.load(OTHER), _record(1))  # what was stored still loads
        assert ro.save(KEY, _record(0)) is None
        run = fit(_mlp(), data, CFG, store=ro, progress=False)
    pd.testing.assert_frame_equal(run.history, reference.history)
    assert rs.keys() == [OTHER]


def test_permission_denied_at_save_warns_and_keeps_the_old_entry(cache_dir, monkeypatch):
    rs = RunStore(cache_dir)
    rs.save(KEY, _record(0))
    monkeypatch.setattr(os, "replace", _raise(errno.EACCES))
    with pytest.warns(RunStoreWarning) as rec:
        assert rs.save(KEY, _record(5)) is None
        assert rs.save(OTHER, _record(6)) is None  # same cause: not repeated
    msg = _one_line(rec)
    assert "EACCES" in msg and "not cached" in msg and str(cache_dir) in msg
    monkeypatch.undo()
    assert _same(rs.load(KEY), _record(0)) and rs.keys() == [KEY] and _leftovers(cache_dir) == []


class _FullDisk:
    """A file object that takes `room` bytes, then fails with ENOSPC (leaving a partial temp file)."""

    def __init__(self, f, room=100):
        self.f, self.room = f, room

    def write(self, b):
        b = bytes(b)
        if len(b) > self.room:
            self.f.write(b[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(b)
        return self.f.write(b)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_full_store_warns_once_per_kind_and_loses_nothing(cache_dir, monkeypatch):
    rs = RunStore(cache_dir)
    rs.save(KEY, _record(0))
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FullDisk(real(fd, *a, **k)))
    with pytest.warns(RunStoreWarning) as rec:
        for i in range(3):
            assert rs.save(KEY, _record(i + 1)) is None
            assert rs.save(KEY, _record(i + 1), suffix=".partial") is None
    msgs = [str(w.message) for w in rec]
    assert len(msgs) == 2 and all("ENOSPC: No space left on device" in m and "\n" not in m for m in msgs)
    assert "not cached" in msgs[0] and "snapshot" in msgs[1]
    monkeypatch.undo()
    assert _leftovers(cache_dir) == []  # the partial temp files are gone
    assert _same(rs.load(KEY), _record(0)) and rs.load(KEY, suffix=".partial") is None


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 256 KiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()[:80]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_and_read_only_filesystem(tiny_fs):
    rs = RunStore(tiny_fs / "store")
    saved = []
    with pytest.warns(RunStoreWarning) as rec:
        for i in range(40):  # 16 KiB each: the disk fills up well before 40
            if rs.save(f"{i:02d}" + "0" * 62, _record(i)) is not None:
                saved.append(i)
    assert 0 < len(saved) < 40 and "ENOSPC" in _one_line(rec)
    assert _leftovers(tiny_fs) == []
    with _no_store_warnings():
        assert all(_same(rs.load(f"{i:02d}" + "0" * 62), _record(i)) for i in saved)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.warns(RunStoreWarning) as rec:
        ro = resolve(rs.root)
    assert "read-only (EROFS" in _one_line(rec) and not ro.writable
    with _no_store_warnings():
        assert ro.save("zz" + "0" * 62, _record(0)) is None
        assert _same(ro.load(f"{saved[0]:02d}" + "0" * 62), _record(saved[0]))


def test_fit_whose_saves_fail_returns_the_run_and_warns(cache_dir, monkeypatch, data, reference):
    monkeypatch.setattr(os, "replace", _raise(errno.ENOSPC))
    with pytest.warns(RunStoreWarning) as rec:
        run = fit(_mlp(), data, CFG, store=cache_dir, progress=False, snapshot_every_s=0.0)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunStoreWarning)]
    assert 1 <= len(msgs) <= 2 and all("ENOSPC" in m and "\n" not in m for m in msgs)  # snapshot + final save
    assert any("not cached" in m for m in msgs)
    pd.testing.assert_frame_equal(run.history, reference.history)
    for k in reference.final_state:
        torch.testing.assert_close(run.final_state[k], reference.final_state[k])
    assert RunStore(cache_dir).keys() == [] and _leftovers(cache_dir) == []


# ---- many writers ------------------------------------------------------------------------------
def _payload(writer: int, i: int) -> dict:
    return {"writer": writer, "i": i, "t": torch.full((4096,), float(writer * 1000 + i))}


def _whole(obj) -> bool:
    return obj["t"].shape == (4096,) and bool((obj["t"] == obj["writer"] * 1000 + obj["i"]).all())


SHARED = "ee" + "0" * 62


def _writer(root, writer, n):
    try:
        warnings.simplefilter("error", RunStoreWarning)  # a damaged read (a RunStoreWarning) fails this writer
        rs = RunStore(root)
        rng = random.Random(writer)
        for i in range(n):
            own = f"{writer:02d}" + f"{i % 5:062d}"
            assert rs.save(SHARED, _payload(writer, i)) is not None
            assert rs.save(own, _payload(writer, i)) is not None
            with rs.claim(SHARED, blocking=rng.random() < 0.5, timeout=0.5):
                for key in (SHARED, own, f"{rng.randrange(4):02d}" + f"{rng.randrange(5):062d}"):
                    obj = rs.load(key)
                    assert obj is None or _whole(obj), key
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def test_concurrent_writers_leave_every_entry_whole(cache_dir):
    RunStore(cache_dir)
    procs = [MP.Process(target=_writer, args=(cache_dir, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    rs = RunStore(cache_dir)
    assert sorted(rs.keys()) == sorted([SHARED] + [f"{w:02d}" + f"{i:062d}" for w in range(4) for i in range(5)])
    with _no_store_warnings():
        assert rs.check() == [] and rs.quarantined() == []
        assert all(_whole(rs.load(k)) for k in rs.keys())
    assert _leftovers(cache_dir) == []


def _trainer(root, barrier, log):
    rs = RunStore(root)
    barrier.wait()
    with rs.claim(SHARED) as got:
        if got and rs.load(SHARED) is None:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")
            time.sleep(0.3)  # the training: long enough for every other process to be waiting
            rs.save(SHARED, _payload(0, 0))
    os._exit(0 if got and _whole(rs.load(SHARED)) else 1)


def test_claim_prevents_duplicate_work_across_processes(cache_dir, tmp_path):
    RunStore(cache_dir)
    barrier, log = MP.Barrier(4), tmp_path / "trained"
    procs = [MP.Process(target=_trainer, args=(cache_dir, barrier, log)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert len(log.read_text().split()) == 1  # trained once, loaded three times
    assert _leftovers(cache_dir) == []


def _try_claim(root, q):
    rs = RunStore(root)
    with rs.claim(KEY, blocking=False) as a:
        pass
    with rs.claim(KEY, timeout=0.05) as b:
        pass
    q.put((a, b))


def test_claim_is_exclusive_reentrant_and_leaves_no_lock_file(cache_dir):
    rs = RunStore(cache_dir)
    q = MP.Queue()
    with rs.claim(KEY) as got:
        assert got and rs.path(KEY, ".lock").exists()
        assert rs.keys() == []  # a lock is not a run
        with rs.claim(KEY, timeout=1.0) as again:  # nested in one process: no self-deadlock
            assert again
        p = MP.Process(target=_try_claim, args=(cache_dir, q))
        p.start()
        assert q.get(timeout=30) == (False, False)  # held here: another process cannot have it
        p.join(30)
    assert not rs.path(KEY, ".lock").exists()
    p = MP.Process(target=_try_claim, args=(cache_dir, q))
    p.start()
    assert q.get(timeout=30) == (True, True)  # released: now it can
    p.join(30)


# ---- CLI ---------------------------------------------------------------------------------------
def test_list_with_cache_on_a_file_prints_one_line(tmp_path, monkeypatch, capsys):
    f = tmp_path / "cachefile"
    f.write_text("x")
    monkeypatch.setenv("GROKKIT_CACHE", str(f))
    assert main(["list"]) != 0
    out, err = capsys.readouterr()
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out + err
    assert str(f) in lines[0] and "not a directory" in lines[0] and "GROKKIT_CACHE=off" in lines[0]


def test_list_reports_a_damaged_run_without_moving_it(cache_dir, capsys):
    rs = RunStore(cache_dir)
    rs.save(OTHER, _record(1))
    path = rs.save(KEY, _record(0))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(raw)
    with _no_store_warnings():
        assert main(["list"]) == 1
    out, err = capsys.readouterr()
    assert "2 run(s)" in out and f"{KEY[:12]}  DAMAGED: checksum mismatch" in out and "Traceback" not in out + err
    assert f"{OTHER[:12]}  members=  1" in out
    assert path.read_bytes() == raw  # listing is read-only
