"""Shapes, parameter counts, VGG-16 weight loading and fusion of the mvclass CNNs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mvclass.models import (SpatialVGG16, Temporal2D, Temporal3D, TwoStream, build_model, fuse_probabilities,
                            load_pretrained, routed_predict)

torch.set_num_threads(2)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def conv_params(cin, cout, k, dims):
    return cin * cout * k ** dims + cout


def test_temporal3d_paper_geometry_and_parameter_count():
    model = Temporal3D(101)
    # Independent count from the layer list: 'same' padding keeps 24x24 through the convs,
    # time 160 -> /2 conv -> /2 pool -> /2 conv -> /2 pool -> /2 pool = 5; space 24 -> 12 -> 6 -> 3.
    convs = (conv_params(2, 64, 3, 3) + conv_params(64, 128, 3, 3) + conv_params(128, 256, 2, 3)
             + 2 * conv_params(256, 256, 2, 3))
    fcs = (256 * 5 * 3 * 3 + 1) * 2048 + (2048 + 1) * 2048 + (2048 + 1) * 101
    prelu = 64 + 128 + 3 * 256 + 2  # channel-wise PReLU on convs, one slope per fc PReLU
    assert n_params(model) == convs + fcs + prelu
    assert abs(n_params(model) - 29.5e6) < 0.1e6
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 2, 160, 24, 24))
    assert out.shape == (2, 101)
    assert torch.isfinite(out).all()


def test_temporal3d_same_padding_pads_2x2x2_kernels_at_the_end():
    model = Temporal3D(5, frames=32, size=12)
    conv = model.features[6]  # first 2x2x2 conv
    assert conv.kernel_size == (2, 2, 2)
    x = torch.zeros(1, 128, 4, 6, 6)
    x[0, :, -1, -1, -1] = 1.0  # only the last voxel is non-zero
    with torch.no_grad():
        conv.bias.zero_()
        conv.weight.zero_()
        conv.weight[:, :, 0, 0, 0] = 1.0  # reads the voxel at the window's start
        y = conv(x)
    assert y.shape == (1, 256, 4, 6, 6)
    # Padding at the end: output (t, y, x) sees input (t, y, x) at the window start, so the last
    # output voxel holds the value; padding at the start would have shifted it out.
    assert float(y[0, 0, -1, -1, -1]) == 128.0
    assert float(y.abs().sum()) == 128.0 * 256


def test_temporal3d_short_volumes_and_input_checks():
    model = Temporal3D(7, frames=32, size=12).eval()
    assert model.feature_shape == (256, 1, 2, 2)
    with torch.no_grad():
        assert model(torch.randn(3, 2, 32, 12, 12)).shape == (3, 7)
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(3, 2, 30, 12, 12))
    with pytest.raises(ValueError):
        Temporal3D(0)


def test_temporal2d_paper_geometry():
    model = Temporal2D(101).eval()
    assert model.feature_shape == (512, 6, 6)  # 48 -> 24 -> 12 -> 6 with Caffe ceil pooling
    convs = (conv_params(120, 96, 3, 2) + conv_params(96, 256, 5, 2) + conv_params(256, 512, 3, 2)
             + 2 * conv_params(512, 512, 3, 2))
    fcs = (512 * 36 + 1) * 4096 + (4096 + 1) * 2048 + (2048 + 1) * 101
    assert n_params(model) == convs + fcs + 96 + 256 + 3 * 512 + 2
    with torch.no_grad():
        assert model(torch.randn(2, 120, 48, 48)).shape == (2, 101)
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(2, 2, 160, 24, 24))


def test_he_initialisation_and_dropout():
    model = Temporal3D(10, frames=32, size=12)
    w = model.classifier[0].weight
    fan_in = w.shape[1]
    expected_std = np.sqrt(2.0 / (1 + 0.25 ** 2) / fan_in)
    assert abs(float(w.detach().std()) / expected_std - 1) < 0.02
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    assert all(float(b.detach().abs().max()) == 0 for n, b in model.named_parameters() if n.endswith("bias"))


# torchvision.models.vgg16().state_dict() layout, written out here as the oracle.
VGG16_SHAPES = {
    "features.0": (64, 3), "features.2": (64, 64), "features.5": (128, 64), "features.7": (128, 128),
    "features.10": (256, 128), "features.12": (256, 256), "features.14": (256, 256),
    "features.17": (512, 256), "features.19": (512, 512), "features.21": (512, 512),
    "features.24": (512, 512), "features.26": (512, 512), "features.28": (512, 512),
}


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A state dict in torchvision's vgg16 layout (1000-class head), saved as torchvision would."""
    model = SpatialVGG16(1000)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-imagenet.pth"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


def test_vgg16_keys_and_shapes_match_torchvision(vgg_file):
    _, state = vgg_file
    expected = {}
    for name, (cout, cin) in VGG16_SHAPES.items():
        expected[f"{name}.weight"] = (cout, cin, 3, 3)
        expected[f"{name}.bias"] = (cout,)
    expected.update({"classifier.0.weight": (4096, 25088), "classifier.0.bias": (4096,),
                     "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,),
                     "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,)})
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(v.numel() for v in state.values()) == 138_357_544  # torchvision's documented count


def test_load_pretrained_round_trip_and_head_replacement(vgg_file):
    path, state = vgg_file
    same = load_pretrained(path, num_classes=1000)
    for k, v in same.state_dict().items():
        assert torch.equal(v, state[k]), k
    ucf = load_pretrained(path, num_classes=101)
    loaded = ucf.state_dict()
    assert loaded["classifier.6.weight"].shape == (101, 4096)
    for k, v in loaded.items():
        if not k.startswith("classifier.6"):
            assert torch.equal(v, state[k]), k
    ucf.eval()
    with torch.no_grad():
        assert ucf(torch.randn(1, 3, 64, 64)).shape == (1, 101)


def test_load_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_pretrained(tmp_path / "absent.pth")
    bad = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 512)}, bad)
    with pytest.raises(ValueError, match="missing keys"):
        load_pretrained(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_pretrained(junk)


def test_fusion_mean_of_softmaxes_and_routing():
    class Fixed(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = torch.tensor(logits)

        def forward(self, x):
            return self.logits.expand(len(x), -1)

    lt, ls = [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]
    two = TwoStream(Fixed(lt), Fixed(ls))
    fused = two(torch.zeros(4, 1), torch.zeros(4, 1))
    expected = (torch.softmax(torch.tensor(lt), 0) + torch.softmax(torch.tensor(ls), 0)) / 2
    assert torch.allclose(fused, expected.expand(4, -1))
    assert two.predict(torch.zeros(1, 1), torch.zeros(1, 1)).tolist() == [2]
    assert np.allclose(fuse_probabilities(np.ones(3), np.zeros(3)), 0.5)

    p3 = np.array([[0.9, 0.1, 0.0]] * 3)
    p2 = np.array([[0.0, 0.9, 0.1]] * 3)
    ps = np.array([[0.0, 0.2, 0.8]] * 3)
    assert routed_predict(["3d", "2d", "spatial"], p3, p2, ps, fuse=False).tolist() == [0, 1, 2]
    # Fused: 3D-F = (p3+ps)/2 = [.45,.15,.4] -> 0; 2D-F = [0,.55,.45] -> 1.
    assert routed_predict(["3d", "2d", "spatial"], p3, p2, ps).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown classifier"):
        routed_predict(["3d", "flow", "2d"], p3, p2, ps)
    with pytest.raises(ValueError, match="line up"):
        routed_predict(["3d"], p3, p2, ps)


def test_build_model_names():
    assert isinstance(build_model("3d", 4, frames=32, size=12), Temporal3D)
    assert isinstance(build_model("2d", 4, frames=5, size=16), Temporal2D)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet", 4)
