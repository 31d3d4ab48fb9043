import numpy as np
import pytest
import torch

from grokkit.models.dnn import DNN, DNNConfig
from grokkit.models.resnet import ResNet, ResNetConfig
from grokkit.tasks.shapes import ShapeSumTask, shape_tile


def test_shape_dataset_is_deterministic_and_labels_are_sums():
    t1 = ShapeSumTask(n_shapes=4, image_size=16, seed=3)
    t2 = ShapeSumTask(n_shapes=4, image_size=16, seed=3)
    assert len(t1) == 4**4 and t1.n_classes == 13 and t1.X.shape == (256, 1, 16, 16) and t1.X.dtype == torch.uint8
    assert torch.equal(t1.X, t2.X) and torch.equal(t1.y, t2.y)
    assert not torch.equal(ShapeSumTask(n_shapes=4, image_size=16, seed=4).X, t1.X)  # seed rotates shapes
    # decode every quadrant by matching it against the dictionary, and check label = sum of the values
    d = np.round(t1.dictionary.numpy() * 255).astype(np.uint8)  # (n, 8, 8)
    assert len({tile.tobytes() for tile in d}) == 4  # tiles are distinct
    img = t1.X[:, 0].numpy()
    for q, (r, c) in enumerate(((0, 0), (0, 8), (8, 0), (8, 8))):
        quad = img[:, r : r + 8, c : c + 8]
        match = (quad[:, None] == d[None]).all((2, 3))  # (N, n)
        assert (match.sum(1) == 1).all()
        assert np.array_equal(match.argmax(1), t1.values[:, q].numpy())
    assert torch.equal(t1.y, t1.values.sum(1))
    assert t1.y.min() == 0 and t1.y.max() == 12


def test_shape_tiles_and_split():
    assert shape_tile(0, 12).sum() == 0
    tri, hexa = shape_tile(1, 32), shape_tile(4, 32)  # 3 and 6 sides, outline + spokes
    assert tri.max() == 1.0 and hexa.sum() > tri.sum()
    t = ShapeSumTask(n_shapes=3, image_size=8)
    s = t.split(0.25)
    assert len(s.train) == 20 and len(set(s.train.tolist()) | set(s.test.tolist())) == 81
    with pytest.raises(ValueError):
        ShapeSumTask(n_shapes=3, image_size=9)


def test_resnet18_shapes_param_count_and_members_are_independent():
    full = ResNet(ResNetConfig(n_classes=10, in_channels=3, width=64), n_members=1)
    # torchvision resnet18 with 10 classes has 11,181,642 parameters (BN running stats are buffers)
    assert full.n_params() == 11_181_642
    cfg = ResNetConfig(n_classes=5, width=4, stem="small")
    ens = ResNet(cfg, n_members=2).reset_parameters([7, 8])
    solo = ResNet(cfg, n_members=1).reset_parameters([8])
    x = torch.rand(2, 6, 1, 16, 16)
    out = ens(x)
    assert out.shape == (2, 6, 5)
    torch.testing.assert_close(out[1:], solo(x[1:]), rtol=1e-5, atol=1e-5)
    # no-grad forward uses running statistics and chunks exactly
    with torch.no_grad():
        a = ens(x)
        small = ResNet(ResNetConfig(n_classes=5, width=4, stem="small", eval_chunk=2), n_members=2)
        small.load_state_dict(ens.state_dict())
        torch.testing.assert_close(small(x), a, rtol=1e-5, atol=1e-5)
    ens(torch.randint(0, 255, (2, 3, 1, 32, 32), dtype=torch.uint8)).sum().backward()  # uint8 + imagenet-free stem


def test_dnn_shapes():
    m = DNN(DNNConfig(d_vocab=8, n_out=7), n_members=2).reset_parameters([0, 1])
    assert m.n_params() == 8 * 128 + 384 * 512 + 512 + 512 * 512 + 512 + 512 * 7 + 7
    assert m(torch.randint(0, 8, (2, 5, 3))).shape == (2, 5, 7)
    assert m.first_hidden_rows(7).shape == (2, 7, 512)
