"""Kernels as PyTorch custom operators: what ``torch.compile`` calls instead of tracing a loss.

``torch.compile`` traces the plain form of a loss, which for most losses is what it should
fuse. The loss over a linear layer is the exception: its plain form holds the ``(M, C)``
logits, the very tensor the loss exists to avoid. So its chunked kernel is also a custom
operator, ``focalkit::linear_softmax_focal_loss``, which the compiled graph calls as one
opaque node (``fullgraph=True`` holds): the operator returns the loss and the gradients its
kernel forms in the same pass, and its autograd rule scales those by the incoming gradient.
PyTorch's dispatcher picks the kernel by device: the blocked one on the CPU, the Triton one on
CUDA (the blocked one there when Triton is not installed).

The operator computes ``"mean"`` and ``"sum"`` on CPU and CUDA tensors with an ``alpha`` that
needs no gradient; for the rest, and under a ``torch.func`` transform or forward-mode AD, the
compiled graph holds the plain form. Its backward is first order: a compiled graph has no
second derivative anyway. Its float hyper-parameters travel as one small CPU tensor (so that
changing them does not recompile), which keeps ``mode="reduce-overhead"`` from capturing the
graph in a CUDA graph.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import OPERATOR
from . import triton as triton_kernels
from .blocked import linear as blocked
from .plain import linear as plain

_NAME = "focalkit::linear_softmax_focal_loss"


def _gradients(kernel, x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
               alpha: Tensor | None, options: plain.LinearSoftmaxFocalOptions,
               needs: tuple[bool, bool, bool]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The loss and its gradients by ``kernel`` (empty tensors for those not needed)."""
    operands = [t.detach().requires_grad_(need) if t is not None else None
                for t, need in zip((x, weight, bias), needs, strict=True)]
    with torch.enable_grad():
        loss = kernel(operands[0], target, options._replace(
            weight=operands[1], bias=operands[2], alpha=alpha))
        wanted = [t for t, need in zip(operands, needs, strict=True) if need]
        found = iter(torch.autograd.grad(loss, wanted) if wanted else ())
    grads = [next(found).contiguous() if need else x.new_empty(0) for need in needs]
    return (loss.detach(), *grads)


def _options(floats: Tensor, ignore_index: int | None, reduction: str, chunk_size: int | None
             ) -> plain.LinearSoftmaxFocalOptions:
    """The kernel's options, from the operator's arguments (``floats``: see :func:`_floats`)."""
    gamma, label_smoothing, epsilon, z_loss = floats.tolist()
    return plain.LinearSoftmaxFocalOptions(None, None, None, gamma, ignore_index,
                                           label_smoothing, epsilon, z_loss, reduction,
                                           chunk_size)


def _floats(options: plain.LinearSoftmaxFocalOptions) -> Tensor:
    """gamma, label smoothing, epsilon and z-loss as one float64 CPU tensor: an input of the
    compiled graph rather than constants in it, so that a schedule changing them does not
    recompile (a float argument of a custom operator would be specialised on)."""
    return torch.tensor([options.gamma, options.label_smoothing, options.epsilon,
                         options.z_loss], dtype=torch.float64)


@torch.library.custom_op(_NAME, mutates_args=(), device_types="cpu")
def _operator(x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
              alpha: Tensor | None, floats: Tensor, ignore_index: int | None, reduction: str,
              chunk_size: int | None, needs_x: bool, needs_weight: bool, needs_bias: bool
              ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The loss and the gradients of x, weight and bias (empty where not needed)."""
    options = _options(floats, ignore_index, reduction, chunk_size)
    return _gradients(blocked.linear_softmax_focal_loss, x, weight, bias, target, alpha,
                      options, (needs_x, needs_weight, needs_bias))


@_operator.register_kernel("cuda")
def _operator_cuda(x, weight, bias, target, alpha, floats, ignore_index, reduction, chunk_size,
                   needs_x, needs_weight, needs_bias):
    kernel = (triton_kernels.linear_softmax_focal_loss if triton_kernels.IMPORT_ERROR is None
              else blocked.linear_softmax_focal_loss)
    options = _options(floats, ignore_index, reduction, chunk_size)
    return _gradients(kernel, x, weight, bias, target, alpha, options,
                      (needs_x, needs_weight, needs_bias))


@_operator.register_fake
def _operator_fake(x, weight, bias, target, alpha, floats, ignore_index, reduction, chunk_size,
                   needs_x, needs_weight, needs_bias):
    def grad_like(t: Tensor | None, need: bool) -> Tensor:
        return t.new_empty(t.shape) if need else x.new_empty(0)  # contiguous, as the kernel's

    return (x.new_empty(()), grad_like(x, needs_x), grad_like(weight, needs_weight),
            grad_like(bias, needs_bias))


def _setup_context(ctx, inputs, output):
    ctx.needs = inputs[-3:]
    ctx.save_for_backward(*output[1:])


def _backward(ctx, grad_loss, *unused):
    grads = [g * grad_loss.to(g.dtype) if need else None
             for g, need in zip(ctx.saved_tensors, ctx.needs, strict=True)]
    return (*grads, None, None, None, None, None, None, None, None, None)


_operator.register_autograd(_backward, setup_context=_setup_context)


def _takes(x: Tensor, options: plain.LinearSoftmaxFocalOptions) -> bool:
    """``"mean"`` or ``"sum"`` on a CPU or CUDA tensor, and an ``alpha`` that needs no
    gradient."""
    return (options.reduction != "none" and x.device.type in ("cpu", "cuda")
            and not (options.alpha is not None and options.alpha.requires_grad))


@OPERATOR.implements(plain.linear_softmax_focal_loss, takes=_takes)
def linear_softmax_focal_loss(x: Tensor, target: Tensor,
                              options: plain.LinearSoftmaxFocalOptions) -> Tensor:
    """The loss over a linear layer through the operator (see the module docstring)."""
    weight, bias = options.weight, options.bias
    grad = torch.is_grad_enabled()
    needs = (grad and x.requires_grad, grad and weight.requires_grad,
             grad and bias is not None and bias.requires_grad)
    loss, *_ = _operator(x, weight, bias, target, options.alpha, _floats(options),
                         options.ignore_index, options.reduction, options.chunk_size, *needs)
    return loss
