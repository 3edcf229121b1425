"""sync_dist under a real two-process gloo group: DDP equals one process on the whole batch."""

from __future__ import annotations

import os
import socket
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from focalkit import functional as F

WORLD = 2
LOSSES = {
    "dice": lambda x, t, **kw: F.dice_loss(x, t.clamp_max(2), smooth=0.5, **kw),
    "jaccard_ignore": lambda x, t, **kw: F.jaccard_loss(x, t, ignore_index=255, **kw),
    "tversky": lambda x, t, **kw: F.tversky_loss(x, t.clamp_max(2), alpha=0.3, beta=0.7,
                                                 gamma=1.5, **kw),
}


def batch():
    """Four images whose classes are split unevenly: rank 1 sees no class 2 at all."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 4, 6, 6, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 2, (4, 6, 6), generator=gen)
    t[0, :2] = 2
    t[1, 3:, :3] = 255
    return x, t


def model():
    torch.manual_seed(1)
    return nn.Conv2d(4, 3, kernel_size=1).double()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, init_method="env://")
    try:
        x, t = batch()
        shard = slice(2 * rank, 2 * rank + 2)
        results = {}
        for name, loss_fn in LOSSES.items():
            net = nn.parallel.DistributedDataParallel(model())
            xs = x[shard].clone().requires_grad_()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loss = loss_fn(net(xs), t[shard], sync_dist=True)
                loss.backward()
            results[name + "_warnings"] = [str(w.message) for w in caught]
            results[name] = (loss.detach(), net.module.weight.grad.clone(), xs.grad.clone())
            unsynced = loss_fn(net(x[shard]), t[shard]).detach()
            results[name + "_unsynced"] = unsynced
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_sync_dist_equals_single_process_on_the_whole_batch(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    x, t = batch()
    for name, loss_fn in LOSSES.items():
        net = model()
        xs = x.clone().requires_grad_()
        loss = loss_fn(net(xs), t)
        loss.backward()
        for rank, results in enumerate(ranks):
            value, weight_grad, input_grad = results[name]
            torch.testing.assert_close(value, loss.detach())
            # DDP averages parameter gradients over ranks: the result is the global gradient.
            torch.testing.assert_close(weight_grad, net.weight.grad)
            # Each rank's input gradient is the world size times the global loss's gradient.
            shard = slice(2 * rank, 2 * rank + 2)
            torch.testing.assert_close(input_grad, WORLD * xs.grad[shard])
        # Without sync_dist each rank sees only its own statistics: a different loss.
        assert not torch.allclose(ranks[1][name + "_unsynced"], loss.detach())
        # The all-reduce goes through the supported API: no deprecation or other warning.
        assert all(results[name + "_warnings"] == [] for results in ranks)


def test_sync_dist_in_a_one_process_group_warns_nothing_and_keeps_the_gradient(tmp_path):
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("needs torch.distributed and no process group yet")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        x, t = batch()
        for loss_fn in LOSSES.values():
            synced, plain = x.clone().requires_grad_(), x.clone().requires_grad_()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                value = loss_fn(synced, t, sync_dist=True)
                value.backward()
            expected = loss_fn(plain, t)
            expected.backward()
            torch.testing.assert_close(value, expected)
            torch.testing.assert_close(synced.grad, plain.grad)
    finally:
        dist.destroy_process_group()


def test_sync_dist_without_process_group_is_a_no_op():
    x, t = batch()
    for loss_fn in LOSSES.values():
        torch.testing.assert_close(loss_fn(x, t, sync_dist=True), loss_fn(x, t))
