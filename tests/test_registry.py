"""Losses by name: every row of the table builds and runs; names, aliases and configs."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import focalkit
from focalkit import ComboLoss, FocalLoss, SoftmaxFocalLoss, get_loss, list_losses
from focalkit.nn._registry import LOSSES, TARGETS, _key

# Constructor arguments a loss cannot do without, by name (the target-choosing ``mode`` is
# supplied from the table's target column).
REQUIRED: dict[str, dict] = {
    "logit_adjusted_cross_entropy": {"class_counts": [500, 50, 5]},
    "ldam": {"class_counts": [500, 50, 5]},
}
# Loss modules that wrap other losses rather than being one.
WRAPPERS = {focalkit.ComboLoss, focalkit.FocalWrapper}


def sample(kind: str) -> tuple[torch.Tensor, ...]:
    """The arguments of each kind of loss in the table: a small input and target (for a loss
    over a linear layer: features, the layer's weight and a target)."""
    g = torch.Generator().manual_seed(0)
    if kind == "linear":
        return (torch.randn(2, 4, 8, generator=g), torch.randn(5, 8, generator=g),
                torch.randint(0, 5, (2, 4), generator=g))
    if kind == "multiclass":
        return torch.randn(2, 3, 4, 4, generator=g), torch.randint(0, 3, (2, 4, 4), generator=g)
    if kind == "distribution":
        return torch.randn(6, 4, 8, generator=g), torch.rand(6, 4, generator=g) * 7
    shape = (2, 3, 4, 4) if kind == "multilabel" else (2, 1, 4, 4)
    return torch.randn(*shape, generator=g), torch.randint(0, 2, shape, generator=g).float()


def cases() -> list[tuple[str, str, dict]]:
    found = []
    for name, entry in LOSSES.items():
        kinds = ("multiclass", "multilabel", "binary") if entry.target == "mode" \
            else (entry.target,)
        for kind in kinds:
            kwargs = dict(REQUIRED.get(name, {}))
            if entry.target == "mode":
                kwargs["mode"] = kind
            found.append((name, kind, kwargs))
    return found


@pytest.mark.parametrize("name,kind,kwargs", cases(),
                         ids=[f"{n}-{k}" for n, k, _ in cases()])
def test_every_registered_loss_builds_and_runs(name, kind, kwargs):
    loss = get_loss(name, **kwargs)
    assert type(loss) is LOSSES[name].module
    args = sample(kind)
    x = args[0].requires_grad_(True)
    value = loss(*args)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_every_public_loss_module_is_registered():
    registered = {entry.module for entry in LOSSES.values()}
    public = {getattr(focalkit.nn, n) for n in focalkit.nn.__all__}
    missing = sorted(c.__name__ for c in public - WRAPPERS if c not in registered)
    assert not missing, f"loss modules with no row in focalkit.registry.LOSSES: {missing}"


def test_table_rows():
    labels = [label for name, entry in LOSSES.items() for label in (name, *entry.aliases)]
    keys = [_key(label) for label in labels]
    assert len(set(keys)) == len(keys), f"two rows answer to the same name: {labels}"
    for name, entry in LOSSES.items():
        assert name == name.lower() and " " not in name and "-" not in name
        assert issubclass(entry.module, nn.Module)
        assert entry.target in TARGETS


def test_list_losses():
    assert list_losses() == sorted(LOSSES)
    assert {"sigmoid_focal", "softmax_focal", "focal", "dice", "lovasz_softmax"} \
        <= set(list_losses())


@pytest.mark.parametrize("spelling", ["softmax_focal", "SoftmaxFocalLoss", "softmax-focal-loss",
                                      "Softmax Focal", "softmax_focal_loss", "multiclass_focal"])
def test_spellings_and_aliases(spelling):
    assert type(get_loss(spelling)) is SoftmaxFocalLoss


def test_every_alias_finds_its_row():
    for name, entry in LOSSES.items():
        kwargs = dict(REQUIRED.get(name, {}))
        if entry.target == "mode":
            kwargs["mode"] = "multiclass"
        for alias in entry.aliases:
            assert type(get_loss(alias, **kwargs)) is entry.module, alias


def test_kwargs_reach_the_module():
    loss = get_loss("focal", mode="multilabel", gamma=1.5, alpha=0.5)
    assert isinstance(loss, FocalLoss) and loss.mode == "multilabel"
    assert loss.gamma == 1.5 and loss.alpha == 0.5


@pytest.mark.parametrize("name,kwargs,error,match", [
    ("focall", {"mode": "binary"}, ValueError, r"unknown loss 'focall'; did you mean 'focal'"),
    ("lovasz", {}, ValueError, r"did you mean 'lovasz_hinge' or 'lovasz_softmax'"),
    ("xyzzy", {}, ValueError,
     r"unknown loss 'xyzzy'; registered losses: asymmetric, binary_cross_entropy"),
    (3, {}, TypeError, r"name must be a string; got int"),
    ("softmax_focal", {"mode": "multiclass"}, TypeError, r"unexpected keyword argument 'mode'"),
    ("focal", {"mode": "bogus"}, ValueError, r"mode must be one of"),
])
def test_errors(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        get_loss(name, **kwargs)


def test_get_loss_from_a_config_mapping():
    config = {"name": "softmax_focal", "gamma": 1.0, "alpha": [0.2, 0.3, 0.5]}
    loss = get_loss(**config)
    x, t = sample("multiclass")
    expected = SoftmaxFocalLoss(gamma=1.0, alpha=torch.tensor([0.2, 0.3, 0.5]))
    assert torch.equal(loss(x, t), expected(x, t))


# A combined loss as a configuration file holds it: term names, get_loss arguments, weights.
COMBO = {
    "focal": [{"mode": "multiclass", "gamma": 2.0, "alpha": [0.25, 0.25, 0.5]}, 1.0],
    "dice": [{"mode": "multiclass", "smooth": 1.0}, 0.5],
    "lovasz": [{"name": "lovasz_softmax", "per_image": True}, 0.25],
    "ce": [{}, 1.0],
}


def by_hand() -> ComboLoss:
    return ComboLoss({
        "focal": (FocalLoss("multiclass", gamma=2.0, alpha=[0.25, 0.25, 0.5]), 1.0),
        "dice": (focalkit.DiceLoss("multiclass", smooth=1.0), 0.5),
        "lovasz": (focalkit.LovaszSoftmaxLoss(per_image=True), 0.25),
        "ce": (nn.CrossEntropyLoss(), 1.0),
    })


def check_same_combo(combo: ComboLoss, expected: ComboLoss) -> None:
    assert combo.names == expected.names and combo.weights == expected.weights
    x, t = sample("multiclass")
    parts, want = combo.components(x, t), expected.components(x, t)
    assert parts.keys() == want.keys()
    for name in parts:
        assert torch.equal(parts[name], want[name]), name
    state, want_state = combo.state_dict(), expected.state_dict()
    assert state.keys() == want_state.keys()
    assert all(torch.equal(state[k], want_state[k]) for k in state)


def test_combo_from_names():
    check_same_combo(ComboLoss(COMBO), by_hand())
    as_tuples = {name: (kwargs, weight) for name, (kwargs, weight) in COMBO.items()}
    check_same_combo(ComboLoss(as_tuples), by_hand())


def test_combo_config_round_trip_json():
    check_same_combo(ComboLoss(json.loads(json.dumps(COMBO))), by_hand())


def test_combo_config_round_trip_yaml():
    yaml = pytest.importorskip("yaml")
    text = yaml.safe_dump({"loss": COMBO}, sort_keys=False)
    config = yaml.safe_load(text)
    assert config["loss"] == COMBO
    check_same_combo(ComboLoss(config["loss"]), by_hand())


def test_combo_config_mixes_with_modules():
    combo = ComboLoss({"dice": ({"mode": "multiclass"}, 1.0), "ce": (nn.CrossEntropyLoss(), 1.0)})
    assert isinstance(combo.losses["dice"], focalkit.DiceLoss)


@pytest.mark.parametrize("losses,error,match", [
    ({"dicey": ({}, 1.0)}, ValueError, r"unknown loss 'dicey'; did you mean 'dice'"),
    ({"x": ({"name": "focal"}, 1.0)}, TypeError, r"missing 1 required positional argument"),
    ({"x": ({"loss": "focal"}, 1.0)}, ValueError, r"names its loss with the key .name."),
    ({"dice": ({}, float("inf"))}, ValueError, r"weight of 'dice' must be finite"),
    ({"dice": ({}, 1.0, 2.0)}, TypeError, r"must be a \(loss, weight\) pair"),
])
def test_combo_config_errors(losses, error, match):
    with pytest.raises(error, match=match):
        ComboLoss(losses)
