"""SSD-ResNet50 (MLPerf Automotive) model: state-dict layout, loading through the pytorch
backend, output shapes against the Cognata decoder, strict key checking."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from odbench import ssd_resnet50 as ssd  # noqa: E402
from odbench.backends import get_backend  # noqa: E402
from odbench.dataset_cognata import BASELINE_8MP, DefaultBoxes, SSDDecoder  # noqa: E402
from odbench.errors import UsageError  # noqa: E402

# Small input for the real forward pass; the network is fully convolutional.
SMALL_HW = (128, 224)


def _feat_sizes(h: int, w: int) -> list[list[int]]:
    """Feature map sizes: /8 for the backbone, then six 3x3 stride-2 pad-1 convs (ceil /2)."""
    h, w = math.ceil(h / 2), math.ceil(w / 2)  # conv1 7x7/2 pad 3
    h, w = math.ceil(h / 2), math.ceil(w / 2)  # maxpool 3x3/2 pad 1
    h, w = math.ceil(h / 2), math.ceil(w / 2)  # layer2 (layer3 block 0 has stride 1)
    sizes = [[h, w]]
    for _ in range(6):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append([h, w])
    return sizes


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ssd.build_from_config("baseline_8MP_ss_scales_fm1_5x5_all")


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    """A training-style checkpoint as abtf-ssd-pytorch train.py writes it."""
    path = tmp_path_factory.mktemp("ckpt") / "ssd.pth"
    # non-zero BN statistics so that a load that silently skipped them would show
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save({"epoch": 59, "model_state_dict": model.state_dict(), "optimizer": {}}, path)
    return path


def test_state_dict_layout_matches_reference(model):
    sd = model.state_dict()
    # the reference module tree: SSD.feature_extractor (ResNet) .feature_extractor (Sequential of
    # resnet50 children[:7]), additional_blocks, loc, conf
    expected = {
        "feature_extractor.feature_extractor.0.weight": (64, 3, 7, 7),
        "feature_extractor.feature_extractor.1.running_var": (64,),
        "feature_extractor.feature_extractor.4.0.downsample.0.weight": (256, 64, 1, 1),
        "feature_extractor.feature_extractor.5.0.conv2.weight": (128, 128, 3, 3),
        "feature_extractor.feature_extractor.6.0.conv1.weight": (256, 512, 1, 1),
        "feature_extractor.feature_extractor.6.0.downsample.1.num_batches_tracked": (),
        "feature_extractor.feature_extractor.6.5.bn3.weight": (1024,),
        "additional_blocks.0.0.weight": (1024, 1024, 1, 1),
        "additional_blocks.0.3.weight": (512, 1024, 3, 3),
        "additional_blocks.2.4.running_mean": (256,),
        "additional_blocks.5.3.weight": (256, 256, 3, 3),
        "loc.0.weight": (16, 1024, 5, 5),
        "loc.1.bias": (24,),
        "conf.0.weight": (60, 1024, 5, 5),
        "conf.3.weight": (90, 256, 5, 5),
        "conf.6.bias": (60,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    # ResNet-50 up to layer3: 43 convs + 43 BNs (5 entries each); 6 extra blocks of 2 conv + 2
    # BN; 7 loc + 7 conf heads with bias
    assert len(sd) == (43 + 43 * 5) + 6 * (2 + 2 * 5) + 14 * 2
    assert not any(
        k.startswith(("feature_extractor.feature_extractor.7", "pre_blocks")) for k in sd
    )
    # layer3 block 0 runs at stride 1 (output stride 8)
    blk = model.feature_extractor.feature_extractor[6][0]
    assert blk.conv2.stride == (1, 1) and blk.downsample[0].stride == (1, 1)


def test_full_size_shapes_match_decoder(model):
    # shape propagation of the real 2160x3840 input on the meta device (no compute)
    meta = ssd.build_from_config().to("meta")
    ploc, plabel = meta(torch.empty(1, 3, 2160, 3840, device="meta"))
    n_boxes = len(DefaultBoxes.from_config(BASELINE_8MP))
    assert n_boxes == 776740
    assert tuple(ploc.shape) == (1, 4, n_boxes)
    assert tuple(plabel.shape) == (1, 15, n_boxes)
    assert (tuple(ploc.shape), tuple(plabel.shape)) == ssd.output_shapes(1)


def test_backend_loads_state_dict_and_runs(model, checkpoint):
    backend = get_backend("pytorch")
    backend.device = "cpu"
    backend.load(str(checkpoint))
    got = backend.model.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(got[key].cpu(), value), key
    x = torch.randn(1, 3, *SMALL_HW).numpy()
    out = backend.predict({"image": x})
    assert len(out) == 2
    feats = _feat_sizes(*SMALL_HW)
    assert out[0].shape == ssd.output_shapes(1, feat_sizes=feats)[0]
    assert out[1].shape == ssd.output_shapes(1, feat_sizes=feats)[1]
    # the same numbers as the in-memory model
    with torch.no_grad():
        ref_loc, ref_lab = model(torch.as_tensor(x))
    assert torch.allclose(torch.as_tensor(out[0]), ref_loc, atol=1e-4)
    assert torch.allclose(torch.as_tensor(out[1]), ref_lab, atol=1e-4)
    # the Cognata decoder accepts the output when its config describes this input size
    cfg = dict(
        BASELINE_8MP,
        image_size=list(SMALL_HW),
        feat_size=feats,
        steps=[8, 16, 32, 64, 128, 256, 512],
    )
    rows = SSDDecoder(cfg).decode_pixels(out[0][0], out[1][0])
    assert rows.ndim == 2 and rows.shape[1] == 6
    assert set(rows[:, 4].astype(int)) <= set(range(1, 15))


def test_load_checkpoint_plain_and_ddp_state_dict(model, tmp_path):
    plain = tmp_path / "plain.pth"
    torch.save(model.state_dict(), plain)
    loaded = ssd.load_checkpoint(str(plain), "cpu")
    assert torch.equal(loaded.loc[0].weight, model.loc[0].weight)
    ddp = tmp_path / "ddp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, ddp)
    loaded = ssd.load_checkpoint(str(ddp), "cpu")
    assert torch.equal(loaded.conf[6].bias, model.conf[6].bias)


def test_renamed_key_is_refused_with_its_name(model, tmp_path):
    sd = dict(model.state_dict())
    sd["loc.3.kernel"] = sd.pop("loc.3.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"model_state_dict": sd}, path)
    backend = get_backend("pytorch-native")
    backend.device = "cpu"
    with pytest.raises(UsageError) as err:
        backend.load(str(path))
    assert "missing keys (1): loc.3.weight" in str(err.value)
    assert "unexpected keys (1): loc.3.kernel" in str(err.value)


def test_wrong_shape_and_non_state_dict_are_refused(model, tmp_path):
    sd = dict(model.state_dict())
    sd["conf.0.weight"] = torch.zeros(4, 1024, 5, 5)
    with pytest.raises(UsageError, match=r"conf\.0\.weight: checkpoint \(4, 1024, 5, 5\)"):
        ssd.model_from_state_dict(sd, "x.pth")
    with pytest.raises(UsageError, match="holds no state dict"):
        ssd.model_from_state_dict({"epoch": 3, "note": "x"}, "y.pth")
