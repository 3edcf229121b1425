"""Framework glue: the Trainer loss (with and without ``transformers``) and Lightning checkpoints.

The framework tests build tiny randomly initialised models (nothing is downloaded) and are
skipped when the ``integrations`` extra is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from focalkit import (
    AsymmetricLoss,
    ComboLoss,
    DiceLoss,
    FocalLoss,
    GammaScheduler,
    LDAMLoss,
    LogitAdjustedCrossEntropyLoss,
    LovaszSoftmaxLoss,
    Poly1CrossEntropyLoss,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
)
from focalkit.functional import sigmoid_focal_loss, softmax_focal_loss
from focalkit.integrations.transformers import loss_func

SINGLE, MULTI, TOKEN = ("single_label_classification", "multi_label_classification",
                        "token_classification")


# The wrapper itself needs no framework.

def test_single_label_is_the_loss():
    x, t = torch.randn(6, 3), torch.tensor([0, 1, 2, -100, 0, 0])
    compute = loss_func(SoftmaxFocalLoss(), problem_type=SINGLE)
    assert torch.equal(compute(SimpleNamespace(logits=x), t), softmax_focal_loss(x, t))


def test_multi_label_converts_integer_labels():
    x, y = torch.randn(4, 5), torch.randint(0, 2, (4, 5))
    compute = loss_func(FocalLoss("multilabel"), problem_type=MULTI)
    assert torch.equal(compute(SimpleNamespace(logits=x), y), sigmoid_focal_loss(x, y.float()))
    assert torch.equal(compute(SimpleNamespace(logits=x), y.float()),
                       sigmoid_focal_loss(x, y.float()))


def test_token_classification_ignores_minus_100():
    x = torch.randn(2, 5, 3, requires_grad=True)
    labels = torch.tensor([[0, 2, -100, -100, 1], [-100, 1, 1, 0, -100]])
    compute = loss_func(SoftmaxFocalLoss(gamma=1.0), problem_type=TOKEN)
    value = compute({"logits": x}, labels)
    keep = labels != -100
    expected = softmax_focal_loss(x[keep], labels[keep], gamma=1.0)
    torch.testing.assert_close(value, expected)
    value.backward()
    assert torch.all(x.grad[~keep] == 0) and torch.all(x.grad[keep].abs().sum(-1) > 0)


@pytest.mark.parametrize("outputs", ["tensor", "tuple", "mapping", "attribute"])
def test_logits_from_any_output(outputs):
    x, t = torch.randn(4, 3), torch.randint(0, 3, (4,))
    wrapped = {"tensor": x, "tuple": (x, None), "mapping": {"logits": x},
               "attribute": SimpleNamespace(logits=x)}[outputs]
    compute = loss_func(SoftmaxFocalLoss(), problem_type=SINGLE)
    assert torch.equal(compute(wrapped, t), softmax_focal_loss(x, t))


@pytest.mark.parametrize("problem_type", [SINGLE, MULTI, TOKEN])
def test_micro_batches_add_up_to_the_big_batch(problem_type):
    g = torch.Generator().manual_seed(0)
    if problem_type == TOKEN:
        x = torch.randn(4, 6, 3, generator=g)
        labels = torch.randint(0, 3, (4, 6), generator=g)
        labels[0, 2:] = -100  # the micro-batches hold different numbers of labels
        labels[3, 0] = -100
        loss = SoftmaxFocalLoss()
    elif problem_type == MULTI:
        x, labels = torch.randn(4, 3, generator=g), torch.randint(0, 2, (4, 3), generator=g)
        loss = FocalLoss("multilabel")
    else:
        x, labels = torch.randn(4, 3, generator=g), torch.tensor([0, -100, 2, 1])
        loss = SoftmaxFocalLoss(alpha=[0.2, 0.3, 0.5])
    compute = loss_func(loss, problem_type=problem_type)
    items = torch.tensor(int((labels != -100).sum()))
    halves = sum(compute(SimpleNamespace(logits=x[i:i + 2]), labels[i:i + 2], items)
                 for i in (0, 2))
    torch.testing.assert_close(halves, compute(SimpleNamespace(logits=x), labels))
    torch.testing.assert_close(compute(SimpleNamespace(logits=x), labels, int(items)),
                               compute(SimpleNamespace(logits=x), labels))


COUNTS = [60.0, 20.0, 5.0]
WEIGHT = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
EXACT = {  # every per-position loss family, mean and sum
    "softmax_focal": (SINGLE, lambda: SoftmaxFocalLoss(gamma=2.0, alpha=[0.2, 0.3, 0.5])),
    "poly1_sum_weight": (SINGLE, lambda: Poly1CrossEntropyLoss(epsilon=1.0, weight=WEIGHT,
                                                               reduction="sum")),
    "poly1": (TOKEN, lambda: Poly1CrossEntropyLoss(epsilon=2.0)),
    "ldam": (SINGLE, lambda: LDAMLoss(class_counts=COUNTS)),
    "logit_adjusted_sum_weight": (TOKEN, lambda: LogitAdjustedCrossEntropyLoss(
        class_counts=COUNTS, weight=WEIGHT, reduction="sum")),
    "sigmoid_focal": (MULTI, lambda: SigmoidFocalLoss(weight=WEIGHT)),
    "asymmetric": (MULTI, lambda: AsymmetricLoss()),
    "combo": (SINGLE, lambda: ComboLoss({"focal": (FocalLoss("multiclass"), 0.5),
                                         "ldam": (LDAMLoss(class_counts=COUNTS), 2.0)})),
}


def micro_batch_data(problem_type):
    g = torch.Generator().manual_seed(0)
    if problem_type == TOKEN:
        x = torch.randn(4, 6, 3, generator=g, dtype=torch.float64)
        labels = torch.randint(0, 3, (4, 6), generator=g)
        labels[0, 2:] = -100
        labels[3, 0] = -100
    elif problem_type == MULTI:
        x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        labels = torch.randint(0, 2, (4, 3), generator=g)
    else:
        x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        labels = torch.tensor([0, -100, 2, 1])
    return x, labels


@pytest.mark.parametrize("name", EXACT)
def test_micro_batches_give_the_big_batch_exactly_in_float64(name):
    problem_type, make = EXACT[name]
    loss = make()
    x, labels = micro_batch_data(problem_type)
    compute = loss_func(loss, problem_type=problem_type)
    items = labels.ne(-100).sum()
    parts = [compute(SimpleNamespace(logits=x[i:i + 1]), labels[i:i + 1], items)
             for i in range(4)]
    whole = compute(SimpleNamespace(logits=x), labels)
    assert whole.dtype == torch.float64
    torch.testing.assert_close(sum(parts), whole, rtol=1e-15, atol=1e-15)
    # The reductions are set to "sum" for the call only.
    assert [m.reduction for m in loss.modules() if hasattr(m, "reduction")] == \
        [m.reduction for m in make().modules() if hasattr(m, "reduction")]


@pytest.mark.parametrize("loss,match", [
    (SoftmaxFocalLoss(reduction="none"), r"reduction 'mean' or 'sum'.*reduction='none'"),
    (DiceLoss(ignore_index=-100), r"DiceLoss is not a mean over the labels"),
    (LovaszSoftmaxLoss(ignore_index=-100), r"LovaszSoftmaxLoss is not a mean"),
    (ComboLoss({"dice": (DiceLoss(ignore_index=-100), 1.0), "focal": (SoftmaxFocalLoss(), 1.0)}),
     r"DiceLoss is not a mean"),
    (ComboLoss({"focal": (SoftmaxFocalLoss(), 1.0), "sum": (LDAMLoss(class_counts=COUNTS,
                                                                   reduction="sum"), 1.0)}),
     r"mix reduction='mean' and 'sum'"),
    (Poly1CrossEntropyLoss(weight=WEIGHT), r"Poly1CrossEntropyLoss with weight.*summed weights"),
    (LDAMLoss(class_counts=COUNTS, weight=WEIGHT), r"LDAMLoss with weight"),
    (LogitAdjustedCrossEntropyLoss(class_counts=COUNTS, weight=WEIGHT),
     r"LogitAdjustedCrossEntropyLoss with weight"),
    (lambda x, t: softmax_focal_loss(x, t), r"loss must be a focalkit loss module.*function"),
])
def test_what_accumulation_cannot_reproduce_is_rejected(loss, match):
    compute = loss_func(loss, problem_type=SINGLE)
    x, t = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, -100])
    compute(x, t)  # without num_items_in_batch the loss is returned as it is
    with pytest.raises(ValueError, match=match):
        compute(x, t, 6)


@pytest.mark.parametrize("call,error,match", [
    (lambda: loss_func(SoftmaxFocalLoss(), problem_type="regression"), ValueError,
     r"problem_type must be one of 'single_label_classification'.*got 'regression'"),
    (lambda: loss_func("focal", problem_type=SINGLE), TypeError,
     r"loss must be a loss module or function; got str"),
    (lambda: loss_func(SoftmaxFocalLoss(), problem_type=SINGLE)(torch.randn(2, 3), None),
     ValueError, r"labels must be given"),
    (lambda: loss_func(SoftmaxFocalLoss(), problem_type=TOKEN)(
        torch.randn(2, 3), torch.zeros(2, dtype=torch.long)),
     ValueError, r"logits must have 3 dimensions for problem_type 'token_classification'; "
                 r"got shape \(2, 3\)"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_core_imports_no_framework():
    code = ("import sys, focalkit, focalkit.integrations.transformers; "
            "print(sorted(m for m in ('transformers', 'lightning', 'accelerate', 'yaml') "
            "if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip() == "[]"


# Hugging Face Trainer, on a tiny randomly initialised BERT.

VOCAB, LENGTH = 24, 8


@pytest.fixture(scope="module")
def hf():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return pytest.importorskip("transformers")


def tiny_model(hf, problem_type: str, num_labels: int):
    config = hf.BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=LENGTH, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, num_labels=num_labels,
        problem_type=None if problem_type == TOKEN else problem_type)
    torch.manual_seed(0)
    if problem_type == TOKEN:
        return hf.BertForTokenClassification(config)
    return hf.BertForSequenceClassification(config)


def dataset(problem_type: str, size: int, num_labels: int = 3) -> list[dict]:
    """Imbalanced synthetic data: class 0 dominates; token 1 marks class 1, token 2 class 2."""
    g = torch.Generator().manual_seed(1)
    rows = []
    for i in range(size):
        ids = torch.randint(3, VOCAB, (LENGTH,), generator=g)
        label = 0 if i % 8 else 1 + (i // 8) % 2
        ids[i % LENGTH] = label
        if problem_type == SINGLE:
            labels = torch.tensor(label)
        elif problem_type == MULTI:
            labels = (ids[:num_labels] % 2).float()
        else:
            labels = (ids % num_labels).long()
            labels[LENGTH - 1 - i % 4:] = -100  # padding: a different count in every row
        rows.append({"input_ids": ids, "attention_mask": torch.ones(LENGTH, dtype=torch.long),
                     "labels": labels})
    return rows


def trainer(hf, model, data, tmp_path, loss, problem_type, **args):
    arguments = hf.TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", save_strategy="no",
        logging_strategy="no", disable_tqdm=True, seed=0, dataloader_num_workers=0,
        **args)
    return hf.Trainer(model=model, args=arguments, train_dataset=data,
                      compute_loss_func=loss_func(loss, problem_type=problem_type))


def loss_loss(model, data, loss, problem_type):
    batch = {k: torch.stack([row[k] for row in data]) for k in data[0]}
    labels = batch.pop("labels")
    with torch.no_grad():
        return float(loss_func(loss, problem_type=problem_type)(model(**batch), labels))


def test_trainer_trains_with_focal_loss(hf, tmp_path):
    data = dataset(SINGLE, 32)
    model = tiny_model(hf, SINGLE, 3)
    loss = SoftmaxFocalLoss(gamma=2.0, alpha=[0.2, 0.4, 0.4])
    before = loss_loss(model, data, loss, SINGLE)
    run = trainer(hf, model, data, tmp_path, loss, SINGLE, per_device_train_batch_size=8,
                  num_train_epochs=3, learning_rate=5e-3)
    result = run.train()
    assert result.global_step == 12 and torch.isfinite(torch.tensor(result.training_loss))
    assert loss_loss(model, data, loss, SINGLE) < before


TRAINER_CASES = {
    **EXACT,
    "focal_multilabel": (MULTI, lambda: FocalLoss("multilabel")),
    "softmax_focal_tokens": (TOKEN, lambda: SoftmaxFocalLoss(gamma=2.0)),
}


@pytest.mark.parametrize("name", TRAINER_CASES)
def test_gradient_accumulation_matches_a_big_batch(hf, tmp_path, name):
    """Two micro-batches of 4 accumulated give the first-step gradients of one batch of 8."""
    problem_type, make = TRAINER_CASES[name]
    num_labels = 3
    data = dataset(problem_type, 8, num_labels)
    loss = make().float()

    class Gradients(hf.TrainerCallback):
        def __init__(self):
            self.grads = None

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            if self.grads is None:
                self.grads = {n: p.grad.clone() for n, p in model.named_parameters()
                              if p.grad is not None}

    grads = []
    for batch, steps in ((8, 1), (4, 2)):
        model = tiny_model(hf, problem_type, num_labels)
        seen = Gradients()
        run = trainer(hf, model, data, tmp_path / f"{batch}", loss, problem_type,
                      per_device_train_batch_size=batch, gradient_accumulation_steps=steps,
                      max_steps=1, max_grad_norm=0.0, learning_rate=1e-3)
        run.add_callback(seen)
        run.train()
        grads.append(seen.grads)
    big, accumulated = grads
    assert big.keys() == accumulated.keys() and len(big) > 10
    for name in big:
        torch.testing.assert_close(accumulated[name], big[name], rtol=1e-4, atol=1e-7,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_token_classification_through_trainer(hf, tmp_path):
    data = dataset(TOKEN, 16)
    model = tiny_model(hf, TOKEN, 3)
    loss = FocalLoss("multiclass", gamma=1.0)
    run = trainer(hf, model, data, tmp_path, loss, TOKEN, per_device_train_batch_size=4,
                  gradient_accumulation_steps=2, max_steps=2, learning_rate=1e-3)
    assert torch.isfinite(torch.tensor(run.train().training_loss))
    batch = {k: torch.stack([row[k] for row in data[:4]]) for k in data[0]}
    labels = batch.pop("labels")
    logits = model(**batch).logits
    value = loss_func(loss, problem_type=TOKEN)(SimpleNamespace(logits=logits), labels)
    keep = labels != -100
    torch.testing.assert_close(value, softmax_focal_loss(logits[keep], labels[keep], gamma=1.0))


# Lightning: a GammaScheduler saved with and restored from a checkpoint.

def test_gamma_scheduler_survives_a_lightning_checkpoint(tmp_path):
    L = pytest.importorskip("lightning")

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(4, 3)
            self.loss = SoftmaxFocalLoss(gamma=2.0)
            self.gamma_scheduler = GammaScheduler(self.loss, schedule="linear", total_steps=4)

        def on_train_epoch_start(self):
            while self.gamma_scheduler.last_step < self.current_epoch:
                self.gamma_scheduler.step()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return self.loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def on_save_checkpoint(self, checkpoint):
            checkpoint["gamma_scheduler"] = self.gamma_scheduler.state_dict()

        def on_load_checkpoint(self, checkpoint):
            self.gamma_scheduler.load_state_dict(checkpoint["gamma_scheduler"])

    data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randint(0, 3, (8,)))
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    options = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir=str(tmp_path))
    module = Module()
    L.Trainer(max_epochs=3, **options).fit(module, loader)
    assert module.gamma_scheduler.last_step == 2 and module.loss.gamma == 1.0
    path = tmp_path / "run.ckpt"
    trainer = L.Trainer(max_epochs=3, **options)
    trainer.fit(module, loader)  # already at max_epochs: attaches the module to save it
    trainer.save_checkpoint(path)

    restored = Module.load_from_checkpoint(path)
    assert restored.gamma_scheduler.state_dict() == module.gamma_scheduler.state_dict()
    assert restored.loss.gamma == 1.0

    resumed = Module()
    L.Trainer(max_epochs=5, **options).fit(resumed, loader, ckpt_path=path)
    assert resumed.gamma_scheduler.last_step == 4 and resumed.loss.gamma == 2.0
