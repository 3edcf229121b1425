r"""Distance and topology losses: the exact Euclidean distance transform and the soft skeleton.

Distance transform
    The squared distance from every element of a mask to the nearest element of a feature
    set is separable (Saito and Toriwaki; Felzenszwalb and Huttenlocher): one pass along the
    first axis gives the 1-D distance :math:`g` within each line, and every further axis
    takes the lower envelope of parabolas

    .. math::
        D(x) = \min_y \; f(y) + s^2 (x - y)^2

    of the previous pass's result :math:`f` along that axis (spacing :math:`s`). Each line's
    envelope is computed exactly, without a sequential stack: the leftmost minimiser
    :math:`y^*(x)` never decreases with :math:`x` (the cost is a Monge array), so it is found
    for the middle query of every interval first and then, level by level, for the middle of
    each half, searching only between the minimisers of the interval's ends. Every level is a
    handful of whole-tensor operations (a cumulative count that tells each :math:`y` which
    interval it belongs to, and a ``scatter_reduce`` that takes each interval's minimum), so
    the whole envelope costs :math:`O(L \log L)` per line, fully vectorised over lines, with
    no data-dependent control flow: it runs on any device, on ``meta`` tensors and under
    ``torch.compile``. The minimum carries its argument: the float64 cost, read as an
    integer (monotone for non-negative floats), has its lowest bits replaced by :math:`y`.
    For unit spacing the costs are integers below :math:`2^{40}`, whose lowest 12 bits are
    zero, so the result is exact; otherwise it is within :math:`2^{-40}` relative.

    The *two-sided* transform (the distance from every element to the nearest element of the
    other value, which is ``edt(mask) + edt(~mask)``) costs one transform instead of two:
    along each further axis, a line element of the other value contributes :math:`s^2 (x -
    y)^2` exactly, which is at least the 1-D distance :math:`h(x)` to the nearest element of
    the other value on the line; so :math:`D = \min(h^2, \text{envelope of } f)`.

Soft skeleton (clDice)
    Iterated soft erosion (minimum over the cross of neighbours) and soft dilation (maximum
    over the :math:`3^d` box, taken axis by axis) of probabilities, as in Shit et al.
    Positions outside the image, and ignored positions, never win a minimum or a maximum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._tensor import compute_dtype, ignore_mask, reduce
from .. import plain_form


class DistanceTransformOptions(NamedTuple):
    """Options of the Euclidean distance transform of a bool mask (no target)."""

    spacing: tuple[float, ...]
    dtype: torch.dtype


class HausdorffDTOptions(NamedTuple):
    alpha: float
    include_background: bool
    ignore_index: int | None
    reduction: str


class BoundaryOptions(NamedTuple):
    include_background: bool
    ignore_index: int | None
    reduction: str


class SoftclDiceOptions(NamedTuple):
    iterations: int
    smooth: float
    eps: float
    include_background: bool
    ignore_index: int | None
    reduction: str

#: Elements per block of lines in the lower envelope: its half-dozen float64 and int64
#: intermediates stay in the shared cache.
CHUNK = 1 << 18

Envelope = Callable[[Tensor, float], Tensor]

# ---------------------------------------------------------------------------------------------
# Distance transform
# ---------------------------------------------------------------------------------------------


def nearest_mark(left: Tensor, right: Tensor, dim: int, offset: float) -> Tensor:
    r"""1-D distance along ``dim``: :math:`\min(x - P(x), Q(x) - x) + \text{offset}` in float64.

    :math:`P(x)` is the last index :math:`\le x` where ``left`` holds and :math:`Q(x)` the
    first index :math:`\ge x` where ``right`` holds; infinite where there is none. Both are
    running maxima (minima) taken by doubling, :math:`\lceil \log_2 L \rceil` steps, on the
    smallest integer type that holds the indices.
    """
    length = left.shape[dim]
    shape = [1] * left.dim()
    shape[dim] = length
    dtype = torch.int16 if length < 1 << 14 else torch.int32
    index = torch.arange(length, dtype=dtype, device=left.device).reshape(shape)
    # Stand-ins at least ``length`` away from every index, with differences that fit dtype.
    last = torch.where(left, index, -length)
    first = torch.where(right, index, 2 * length - 1)
    step = 1
    while step < length:
        span = length - step
        last.narrow(dim, step, span).copy_(
            torch.maximum(last.narrow(dim, step, span), last.narrow(dim, 0, span)))
        first.narrow(dim, 0, span).copy_(
            torch.minimum(first.narrow(dim, 0, span), first.narrow(dim, step, span)))
        step *= 2
    nearest = torch.minimum(index - last, first - index).to(torch.float64)
    return torch.where(nearest >= length, math.inf, nearest + offset)


def _changes(mask: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Where a run of equal values starts (``left``) and ends (``right``) along ``dim``,
    except at the ends of the line."""
    length = mask.shape[dim]
    edge = torch.zeros_like(mask.narrow(dim, 0, 1))
    change = mask.narrow(dim, 1, length - 1) != mask.narrow(dim, 0, length - 1)
    return torch.cat([edge, change], dim), torch.cat([change, edge], dim)


def _envelope_block(f: Tensor, spacing: float) -> Tensor:
    """:func:`lower_envelope` of one block of lines."""
    lines, length = f.shape
    size = 2
    while size < length:
        size *= 2
    low = size - 1
    s2 = spacing * spacing
    y = torch.arange(length, device=f.device)
    yf = y.to(f.dtype)

    def key(cost: Tensor, at: Tensor) -> Tensor:
        return (cost.view(torch.int64) & ~low) | at

    # Minimisers at x = 0 and at the virtual query x = size (the last y).
    first = torch.addcmul(f, yf, yf, value=s2).argmin(1, keepdim=True)
    anchors = torch.cat([first, torch.full_like(first, length - 1)], 1)
    step = size
    while step > 1:
        half = step // 2
        lo, hi = anchors[:, :-1], anchors[:, 1:]
        count = lo.shape[1]
        # Interval g holds lo_g < y <= hi_g: g counts the upper ends below y.
        ends = torch.zeros(lines, length + 1, dtype=torch.int64, device=f.device)
        ends = ends.scatter_add(1, hi[:, :-1] + 1, torch.ones_like(hi[:, :-1]))
        group = ends[:, :length].cumsum(1)
        offset = torch.add(half - yf, group, alpha=step)  # x_g - y, x_g = g * step + half
        costs = key(torch.addcmul(f, offset, offset, value=s2), y)
        dlo = (torch.arange(half, size, step, device=f.device) - lo).to(f.dtype)
        best = key(torch.addcmul(f.gather(1, lo), dlo, dlo, value=s2), lo)
        best = best.scatter_reduce(1, group, costs, "amin", include_self=True) & low
        anchors = torch.cat([torch.stack([lo, best], 2).reshape(lines, 2 * count),
                             hi[:, -1:]], 1)
        step = half
    arg = anchors[:, :length]
    d = (y - arg).to(f.dtype)
    return torch.addcmul(f.gather(1, arg), d, d, value=s2)


def lower_envelope(f: Tensor, spacing: float) -> Tensor:
    r""":math:`\min_y f(y) + s^2 (x - y)^2` along the last dimension of a ``(B, L)`` float64
    tensor of non-negative values (``inf`` allowed), exactly, in blocks of about
    :data:`CHUNK` elements."""
    rows = max(CHUNK // max(f.shape[1], 1), 1)
    if f.shape[0] <= rows:
        return _envelope_block(f, spacing)
    return torch.cat([_envelope_block(block, spacing) for block in f.split(rows)])


def squared_distances(mask: Tensor, spacing: Sequence[float], two_sided: bool,
                      envelope: Envelope = lower_envelope) -> Tensor:
    """Squared Euclidean distances of a ``(N, *spatial)`` bool mask, in float64.

    One-sided: from every element to the nearest False element (0 on False elements).
    Two-sided: from every element to the nearest element of the other value. Infinite where
    the image holds no such element. ``envelope`` computes the lower envelope of each line
    (:func:`lower_envelope`, or a kernel with its interface).
    """
    if mask.numel() == 0:
        return torch.zeros(mask.shape, dtype=torch.float64, device=mask.device)
    left, right = _changes(mask, 1) if two_sided else (~mask, ~mask)
    offset = 1.0 if two_sided else 0.0
    f = (nearest_mark(left, right, 1, offset) * spacing[0]).square()
    for dim in range(2, mask.dim()):
        lines = f.movedim(dim, -1)
        shape = lines.shape
        f = envelope(lines.reshape(-1, shape[-1]), spacing[dim - 1])
        f = f.reshape(shape).movedim(-1, dim)
        if two_sided:
            h = nearest_mark(*_changes(mask, dim), dim, 1.0) * spacing[dim - 1]
            f = torch.minimum(f, h.square())
    return f


@plain_form
def distance_transform(mask: Tensor, target: None, options: DistanceTransformOptions,
                       envelope: Envelope = lower_envelope) -> Tensor:
    """The exact Euclidean distance transform of a ``(N, *spatial)`` bool mask, in
    ``options.dtype``: from every True element to the nearest False one, 0 on False elements,
    ``inf`` on an image without a False element (the kernel interface; ``target`` is None)."""
    distances = squared_distances(mask, options.spacing, False, envelope).sqrt()
    return distances.to(options.dtype)


def other_kind_distance(fg: Tensor, valid: Tensor | None,
                        envelope: Envelope = lower_envelope) -> tuple[Tensor, Tensor]:
    """Distance from every element to the nearest valid element of the other kind.

    Args:
        fg: ``(N, *spatial)`` bool foreground (False where not valid).
        valid: ``(N, *spatial)`` bool, or None when every position is valid. Positions that
            are not valid belong to neither kind: they are never the nearest element.
        envelope: see :func:`squared_distances`.

    Returns:
        ``(distance, defined)``: float64 distances, and a bool ``(N,)`` telling which images
        hold valid elements of both kinds (elsewhere the distance is infinite).
    """
    ones = [1.0] * (fg.dim() - 1)
    rows = fg.reshape(fg.shape[0], -1)
    if valid is None:
        distance = squared_distances(fg, ones, True, envelope).sqrt()
        return distance, rows.any(1) & ~rows.all(1)
    bg = valid & ~fg
    to_bg = squared_distances(~bg, ones, False, envelope)
    to_fg = squared_distances(~fg, ones, False, envelope)
    distance = torch.where(fg, to_bg, to_fg).sqrt()
    return distance, rows.any(1) & bg.reshape(rows.shape).any(1)


# ---------------------------------------------------------------------------------------------
# Class probabilities and the distance losses
# ---------------------------------------------------------------------------------------------


def class_probabilities(input: Tensor, target: Tensor, valid: Tensor | None,
                        include_background: bool) -> tuple[Tensor, Tensor]:
    """Softmax probabilities and one-hot targets ``(N, C', *spatial)`` in the compute dtype,
    zero at ignored positions (whose logits never reach the softmax), without channel 0
    unless ``include_background``."""
    x = input.to(compute_dtype(input))
    if valid is not None:
        x = torch.where(valid.unsqueeze(1), x, 0.0)
    p = torch.softmax(x, dim=1)
    classes = torch.arange(p.shape[1], device=p.device).reshape(-1, *[1] * (target.dim() - 1))
    q = (target.unsqueeze(1) == classes).to(p.dtype)
    if valid is not None:
        keep = valid.unsqueeze(1)
        p = torch.where(keep, p, 0.0)
        q = torch.where(keep, q, 0.0)
    if not include_background:
        p, q = p[:, 1:], q[:, 1:]
    return p, q


def _per_channel(mask: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """``(N, C, *spatial)`` masks as ``(N * C, *spatial)`` images, with their valid masks."""
    n, c = mask.shape[:2]
    images = mask.reshape(n * c, *mask.shape[2:])
    if valid is None:
        return images, None
    return images, valid.unsqueeze(1).expand(mask.shape).reshape(images.shape)


def _distance(fg: Tensor, valid: Tensor | None, envelope: Envelope) -> tuple[Tensor, Tensor]:
    """:func:`other_kind_distance` of ``(N, C, *spatial)`` masks, with the positions where it
    is defined (valid, in an image holding both kinds)."""
    images, valid_images = _per_channel(fg, valid)
    distance, defined = other_kind_distance(images, valid_images, envelope)
    defined = defined.reshape((-1,) + (1,) * (images.dim() - 1))
    if valid_images is not None:
        defined = defined & valid_images
    return distance.reshape(fg.shape), defined.expand(images.shape).reshape(fg.shape)


def hausdorff_weights(p: Tensor, q: Tensor, valid: Tensor | None, alpha: float,
                      envelope: Envelope = lower_envelope) -> Tensor:
    r"""The weights :math:`d_p^\alpha + d_q^\alpha` of the Hausdorff-DT loss, in ``p``'s dtype.

    :math:`d_p` and :math:`d_q` are the distances to the other kind of the thresholded
    prediction (:math:`p > 1/2`) and of the target, 0 in an image that holds only one kind
    and at ignored positions.
    """
    weights = torch.zeros(p.shape, dtype=torch.float64, device=p.device)
    for fg in (p.detach() > 0.5, q > 0.5):
        if valid is not None:
            fg = fg & valid.unsqueeze(1)
        distance, defined = _distance(fg, valid, envelope)
        weights = weights + torch.where(defined, distance, 0.0).pow(alpha)
    return weights.to(p.dtype)


def hausdorff_dt_terms(p: Tensor, q: Tensor, valid: Tensor | None, alpha: float,
                       envelope: Envelope = lower_envelope) -> Tensor:
    r""":math:`(p - q)^2 (d_p^\alpha + d_q^\alpha)` per position, ``(N, C', *spatial)``."""
    return (p - q).square() * hausdorff_weights(p, q, valid, alpha, envelope)


def signed_distance(q: Tensor, valid: Tensor | None,
                    envelope: Envelope = lower_envelope) -> Tensor:
    r"""The signed distance map of the boundary loss, in ``q``'s dtype: :math:`1 - d` inside
    the target (:math:`d` the distance to the nearest background element, so 0 on the
    inner boundary), :math:`d` outside (the distance to the nearest target element); 0 in
    an image that holds only one kind and at ignored positions."""
    fg = q > 0.5
    if valid is not None:
        fg = fg & valid.unsqueeze(1)
    distance, defined = _distance(fg, valid, envelope)
    signed = torch.where(fg, 1.0 - distance, distance)
    return torch.where(defined, signed, 0.0).to(q.dtype)


def boundary_terms(p: Tensor, q: Tensor, valid: Tensor | None,
                   envelope: Envelope = lower_envelope) -> Tensor:
    r""":math:`p \, \phi_q` per position, with :math:`\phi_q` the :func:`signed_distance`."""
    return p * signed_distance(q, valid, envelope)


@plain_form
def hausdorff_dt_loss(input: Tensor, target: Tensor, options: HausdorffDTOptions,
                      envelope: Envelope = lower_envelope) -> Tensor:
    """The Hausdorff-DT loss of logits and class indices (see
    :func:`focalkit.functional.hausdorff_dt_loss`)."""
    valid, target = ignore_mask(target, options.ignore_index)
    p, q = class_probabilities(input, target, valid, options.include_background)
    terms = hausdorff_dt_terms(p, q, valid, options.alpha, envelope)
    return reduce(position_mean(terms, valid), options.reduction).to(input.dtype)


@plain_form
def boundary_loss(input: Tensor, target: Tensor, options: BoundaryOptions,
                  envelope: Envelope = lower_envelope) -> Tensor:
    """The boundary loss of logits and class indices (see
    :func:`focalkit.functional.boundary_loss`)."""
    valid, target = ignore_mask(target, options.ignore_index)
    p, q = class_probabilities(input, target, valid, options.include_background)
    terms = boundary_terms(p, q, valid, envelope)
    return reduce(position_mean(terms, valid), options.reduction).to(input.dtype)


def position_mean(terms: Tensor, valid: Tensor | None) -> Tensor:
    """Sum over the spatial positions of ``(N, C, *spatial)`` terms divided by each image's
    number of valid positions: ``(N, C)``."""
    dims = tuple(range(2, terms.dim()))
    total = terms.sum(dims)
    if valid is None:
        return total / max(math.prod(terms.shape[2:]), 1)
    count = valid.reshape(valid.shape[0], -1).sum(1, keepdim=True)
    return total / count.clamp_min(1).to(total.dtype)


# ---------------------------------------------------------------------------------------------
# Soft skeleton and clDice
# ---------------------------------------------------------------------------------------------


def neighbours(x: Tensor, dim: int, fill: float) -> tuple[Tensor, Tensor]:
    """``x[i - 1]`` and ``x[i + 1]`` along ``dim``, ``fill`` beyond the ends."""
    length = x.shape[dim]
    padded = F.pad(x, [0, 0] * (x.dim() - 1 - dim) + [1, 1], value=fill)
    return padded.narrow(dim, 0, length), padded.narrow(dim, 2, length)


def erode(x: Tensor, valid: Tensor | None = None) -> Tensor:
    """Soft erosion: the minimum over each position and its neighbours along every spatial
    axis (the cross), of ``(N, C, *spatial)`` values; 0 at ignored positions."""
    source = x if valid is None else torch.where(valid, x, math.inf)
    out = source
    for dim in range(2, x.dim()):
        before, after = neighbours(source, dim, math.inf)
        out = torch.minimum(torch.minimum(out, before), after)
    return out if valid is None else torch.where(valid, out, 0.0)


def dilate(x: Tensor, valid: Tensor | None = None) -> Tensor:
    """Soft dilation: the maximum over the :math:`3^d` box around each position (one axis at
    a time); 0 at ignored positions."""
    out = x if valid is None else torch.where(valid, x, -math.inf)
    for dim in range(2, x.dim()):
        before, after = neighbours(out, dim, -math.inf)
        out = torch.maximum(torch.maximum(out, before), after)
    return out if valid is None else torch.where(valid, out, 0.0)


def soft_skeleton(img: Tensor, iterations: int, valid: Tensor | None = None) -> Tensor:
    r"""Soft skeleton of ``(N, C, *spatial)`` values in [0, 1] (Shit et al., 2021).

    With :math:`E_0 = x`, :math:`E_{k+1} = \mathrm{erode}(E_k)` and the opening
    :math:`O_k = \mathrm{dilate}(E_{k+1})`:

    .. math::
        S_0 = (E_0 - O_0)^+, \qquad
        S_k = S_{k-1} + \left(\delta_k - S_{k-1} \delta_k\right)^+, \quad
        \delta_k = (E_k - O_k)^+, \quad k = 1, \dots, \text{iterations}.

    ``valid`` (broadcastable to ``img``) marks the positions that take part; the others
    behave as positions outside the image, and their skeleton is 0.
    """
    eroded = erode(img, valid)
    skeleton = torch.relu(img - dilate(eroded, valid))
    for _ in range(iterations):
        img = eroded
        eroded = erode(img, valid)
        delta = torch.relu(img - dilate(eroded, valid))
        skeleton = skeleton + torch.relu(delta - skeleton * delta)
    return skeleton


def cldice(p: Tensor, q: Tensor, skeleton_p: Tensor, skeleton_q: Tensor, smooth: float,
           eps: float) -> Tensor:
    r"""Per-image clDice loss ``(N,)`` from the probabilities, targets and their skeletons.

    .. math::
        T_\text{prec} = \frac{\sum S_p q + s}{\sum S_p + s}, \quad
        T_\text{sens} = \frac{\sum S_q p + s}{\sum S_q + s}, \quad
        \ell = 1 - \frac{2\,T_\text{prec} T_\text{sens}}{T_\text{prec} + T_\text{sens}
        + \varepsilon},

    the sums running over the classes and positions of each image.
    """
    dims = tuple(range(1, p.dim()))
    precision = ((skeleton_p * q).sum(dims) + smooth) / (skeleton_p.sum(dims) + smooth)
    sensitivity = ((skeleton_q * p).sum(dims) + smooth) / (skeleton_q.sum(dims) + smooth)
    return 1.0 - 2.0 * (precision * sensitivity) / (precision + sensitivity + eps)


@plain_form
def soft_cldice_loss(input: Tensor, target: Tensor, options: SoftclDiceOptions,
                     skeleton: Callable[[Tensor, int, Tensor | None], Tensor] = soft_skeleton
                     ) -> Tensor:
    """The soft-clDice loss of logits and class indices (see
    :func:`focalkit.functional.soft_cldice_loss`); ``skeleton`` computes the soft skeletons
    (:func:`soft_skeleton`, or a kernel with its interface)."""
    valid, target = ignore_mask(target, options.ignore_index)
    p, q = class_probabilities(input, target, valid, options.include_background)
    keep = None if valid is None else valid.unsqueeze(1)
    loss = cldice(p, q, skeleton(p, options.iterations, keep),
                  skeleton(q, options.iterations, keep), options.smooth, options.eps)
    return reduce(loss, options.reduction).to(input.dtype)
