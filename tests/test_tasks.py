import pytest
import torch

from grokkit.tasks import OPERATIONS, ModularTask, make_split, random_split, square_split, strip_split, subset


def test_operations_match_python_arithmetic():
    p = 7
    for op, f in {
        "add": lambda a, b: (a + b) % p, "sub": lambda a, b: (a - b) % p, "mul": lambda a, b: a * b % p,
        "x2y2": lambda a, b: (a * a + b * b) % p, "x2xyy2": lambda a, b: (a * a + a * b + b * b) % p,
        "x3xy": lambda a, b: (a**3 + a * b) % p,
    }.items():
        t = ModularTask(p=p, operation=op)
        assert len(t) == p * p
        for a, b, y in zip(t.a.tolist(), t.b.tolist(), t.y.tolist()):
            assert y == f(a, b), (op, a, b)


def test_division_inverts_multiplication():
    t = ModularTask(p=11, operation="div")
    assert len(t) == 11 * 10  # b != 0
    assert torch.all((t.y * t.b) % 11 == t.a)


def test_unordered_pairs_count():
    t = ModularTask(p=67, operation="add", pairs="unordered")
    assert len(t) == 67 * 68 // 2 == 2278
    assert torch.all(t.a <= t.b)


def test_rand_table_is_seeded():
    a, b = ModularTask(p=13, operation="rand", table_seed=1), ModularTask(p=13, operation="rand", table_seed=1)
    assert torch.equal(a.y, b.y)
    assert not torch.equal(a.y, ModularTask(p=13, operation="rand", table_seed=2).y)


@pytest.mark.parametrize("kwargs, words", [
    (dict(p=12, operation="div"), ["p=12", "prime"]),
    (dict(p=13, operation="pow"), ["operation", "add", "x3xy"]),
    (dict(p=13, pairs="some"), ["pairs", "unordered"]),
    (dict(p=1), ["p"]),
])
def test_bad_input_names_the_parameter(kwargs, words):
    with pytest.raises(ValueError) as e:
        ModularTask(**kwargs)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("frac", [0, 1, 1.5, -0.2])
def test_bad_fraction(frac):
    with pytest.raises(ValueError, match="train_frac"):
        random_split(ModularTask(p=7), frac)


def test_random_split_partitions_rows():
    t = ModularTask(p=23)
    s = random_split(t, 0.3, seed=4)
    assert len(s.train) == round(0.3 * len(t))
    both = torch.cat([s.train, s.test]).sort().values
    assert torch.equal(both, torch.arange(len(t)))
    assert torch.equal(s.train, random_split(t, 0.3, seed=4).train)
    assert not torch.equal(s.train, random_split(t, 0.3, seed=5).train)


def test_square_and_strip_hold_out_their_block():
    t = ModularTask(p=31)
    sq = square_split(t, 10, 0.3, seed=0)
    tr_a, tr_b = t.a[sq.train], t.b[sq.train]
    assert not torch.any((tr_a <= 10) & (tr_b <= 10))
    assert len(sq.train) == round(0.3 * 31 * 31)
    st = strip_split(t, 5, 0.3, seed=0)
    assert not torch.any(t.a[st.train] <= 5)
    assert len(st.train) + len(st.test) == len(t)
    with pytest.raises(ValueError, match="train_frac"):
        strip_split(t, 25, 0.5)
    full = strip_split(t, 25, 0.5, seed=0, train_all_rest=True)  # rows 26..30 left: all of them train
    assert len(full.train) == 5 * 31 and bool(torch.all(t.a[full.train] > 25))
    assert sorted(full.test.tolist()) == torch.nonzero(t.a <= 25).flatten().tolist()
    small = strip_split(t, 5, 0.3, seed=0, train_all_rest=True)  # enough rows left: the flag changes nothing
    assert torch.equal(small.train, st.train)
    with pytest.raises(ValueError, match="split"):
        make_split(t, "diagonal", train_frac=0.3)


def test_subset_size_and_membership():
    idx = torch.arange(100, 200)
    s = subset(idx, 17, seed=3)
    assert len(s) == 17 and len(set(s.tolist())) == 17 and set(s.tolist()) <= set(idx.tolist())


def test_encodings():
    t = ModularTask(p=5)
    assert t.inputs("pairs").shape == (25, 2)
    oh = t.inputs("onehot")
    assert oh.shape == (25, 10) and torch.all(oh.sum(1) == 2)
    seq = t.inputs("sequence")
    assert seq.shape == (25, 3) and torch.all(seq[:, 2] == 5)
    seq_op = t.inputs("sequence_op")
    assert torch.all(seq_op[:, 1] == 5) and torch.all(seq_op[:, 3] == 6)
    assert set(OPERATIONS) >= {"add", "sub", "mul", "div", "x2y2", "x2xyy2", "x3xy", "rand"}
