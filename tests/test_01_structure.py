import math

import networkx as nx
import numpy as np
import pytest
import torch
from networkx.algorithms import bipartite

from grokkit.metrics import fourier, structure


def test_jaccard_distance_known_values():
    a = {"W": torch.tensor([[[1, 1, 0, 0]], [[1, 0, 0, 0]]], dtype=torch.bool)}
    b = {"W": torch.tensor([[[1, 0, 1, 0]], [[1, 0, 0, 0]]], dtype=torch.bool)}
    jd = structure.jaccard_distance(a, b)
    torch.testing.assert_close(jd["W"], torch.tensor([1 - 1 / 3, 0.0], dtype=torch.float64))
    torch.testing.assert_close(jd["all"], jd["W"])
    empty = {"W": torch.zeros(1, 3, dtype=torch.bool)}
    assert float(structure.jaccard_distance(empty, empty)["W"]) == 0.0


def test_complete_bipartite_spectrum_and_ramanujan():
    # K_{3,4}: eigenvalues +-sqrt(12) and zeros; spectral gap sqrt(12); d_avg = 24/7
    M = np.ones((3, 4))
    assert structure.spectral_gap(M) == pytest.approx(math.sqrt(12))
    assert structure.ramanujan_gap(M) == pytest.approx(math.sqrt(2 * 24 / 7 - 1))
    # weighted: uniform weights 2 double the gap
    assert structure.spectral_gap(2 * M) == pytest.approx(2 * math.sqrt(12))
    apl, frac = structure.average_path_length(M)
    # 12 cross pairs at distance 1, same-side pairs at distance 2: (3*2 + 4*3) ordered pairs * 2, 24 cross ordered
    assert apl == pytest.approx((24 * 1 + 18 * 2) / 42) and frac == 1.0
    assert structure.bipartite_clustering(M) == pytest.approx(1.0)


def test_spectral_gap_matches_dense_eigenvalues():
    rng = np.random.default_rng(0)
    M = (rng.random((6, 9)) < 0.4).astype(float)
    A = np.block([[np.zeros((6, 6)), M], [M.T, np.zeros((9, 9))]])
    ev = np.sort(np.linalg.eigvalsh(A))[::-1]
    assert structure.spectral_gap(M) == pytest.approx(ev[0] - ev[1])
    third = np.sort(np.abs(ev))[::-1][2]
    assert structure.ramanujan_gap(M) == pytest.approx(math.sqrt(2 * 2 * M.sum() / 15 - 1) - third)


def test_path_length_and_clustering_match_networkx():
    rng = np.random.default_rng(1)
    M = (rng.random((8, 12)) < 0.3).astype(int)
    G = nx.Graph()
    G.add_nodes_from(range(20))
    for i, j in zip(*np.nonzero(M)):
        G.add_edge(int(i), 8 + int(j))
    apl, frac = structure.average_path_length(M)
    lengths = [d for s, dd in nx.shortest_path_length(G) for t, d in dd.items() if s != t]
    assert apl == pytest.approx(np.mean(lengths))
    assert frac == pytest.approx(len(lengths) / (20 * 19))
    nodes = [n for n in G if G.degree(n) > 0]
    expect = np.mean([bipartite.clustering(G, nodes, mode="dot")[n] for n in nodes])
    assert structure.bipartite_clustering(M) == pytest.approx(expect)
    t = structure.graph_metrics_table({"W": torch.tensor(M[None]).bool(), "b": torch.ones(1, 3).bool()},
                                      {"W": torch.tensor(M[None]).float(), "b": torch.ones(1, 3)})
    assert list(t.layer) == ["W"] and t.weighted_spectral_gap[0] == pytest.approx(structure.spectral_gap(M))


def test_fourier_entropy_known_values():
    p = 67
    x = torch.arange(p, dtype=torch.float64)
    pure = torch.cos(2 * math.pi * 5 * x / p)[None]
    assert float(fourier.entropy(pure, "shannon", reduce="none")) == pytest.approx(0.0, abs=1e-9)
    nb = fourier.repo_bins(p)
    assert nb == 32
    assert float(fourier.entropy(pure, "repo", n_bins=nb, reduce="none")) == pytest.approx(math.log(31 + math.e) - 1)
    delta = torch.zeros(1, p, dtype=torch.float64)
    delta[0, 0] = 1.0  # flat spectrum
    assert float(fourier.entropy(delta, "shannon", reduce="none")) == pytest.approx(math.log(33))
    assert float(fourier.entropy(delta, "repo", n_bins=nb, reduce="none")) == pytest.approx(math.log(32))
    # (E, d_hidden, p) -> (E,) means
    rows = torch.stack([torch.cat([pure, delta]), torch.cat([pure, pure])])
    torch.testing.assert_close(fourier.entropy(rows), torch.tensor([math.log(33) / 2, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="kind"):
        fourier.entropy(pure, "renyi")
    state = {"W_E": torch.eye(p)[None], "W_in": pure.T[None].float()}
    assert float(fourier.embed_mlp_entropy(state)) == pytest.approx(0.0, abs=1e-4)
    # separate operand tables (2p rows): each neuron's a-slot and b-slot weights are two rows on Z_p
    two = {"W_E": torch.eye(2 * p)[None], "W_in": torch.cat([pure.T, delta.T], 0)[None].float()}
    assert fourier.embed_mlp_rows(two, p).shape == (1, 2, p)
    assert float(fourier.embed_mlp_entropy(two, p=p)) == pytest.approx(math.log(33) / 2, abs=1e-4)
    with pytest.raises(ValueError, match="rows"):
        fourier.embed_mlp_rows(two, p + 1)
