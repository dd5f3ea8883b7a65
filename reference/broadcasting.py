"""Broadcasting: how shapes combine in element-wise ops (clauses BCAST-*).

Shapes are aligned from the trailing dimension; a missing dimension counts as size 1. Along
each aligned dimension the sizes must be equal or one of them must be 1, and the result takes
the larger (a size-1 dimension is stretched, even to 0). Stretching is free: it is an
``expand``, a view whose stretched dimensions have stride 0. The backward of a broadcast sums
the gradient over the stretched dimensions (``sum_to_shape``).

NumPy only: this module is part of the independent oracle and never imports torch.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

Shape = tuple[int, ...]


def _check_shape(shape: Sequence[int] | int, name: str) -> Shape:
    """A shape as a tuple of ints: an int ``n`` is the 1-D shape ``(n,)``, as in torch.

    Raises:
        TypeError: a size (or the shape) that is not an integer.
        ValueError: a negative size.
    """
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    elif not isinstance(shape, (Sequence, np.ndarray)) or isinstance(shape, str):
        raise TypeError(
            f"Input shapes should be of type ints, a tuple of ints, or a list of ints, "
            f"got {shape!r}"
        )
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name} must hold ints, got {tuple(shape)!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name} has a negative size: {shape}")
    return shape


def broadcast_shapes(*shapes: Sequence[int] | int) -> Shape:
    r"""The shape that ``shapes`` broadcast to, as ``torch.broadcast_shapes``.

    Each argument is a shape (a tuple or list of ints) or an int $n$, the 1-D shape
    $(n,)$. With every shape right-aligned and padded with leading 1s to
    $n = \max_k \operatorname{len}(s^{(k)})$ dims, the result is, per dim $i$,
    $r_i = \max_k s^{(k)}_i$ over the sizes other than 1 (or 1 if all are 1), and every size
    must be 1 or $r_i$. A size-1 dim stretches to 0; no arguments give ``()``.

    Raises:
        ValueError: naming the dimension (counted from the end) and the sizes that clash,
            or a negative size.
        TypeError: an argument that is neither an int nor a sequence of ints.
    """
    checked = [_check_shape(s, f"shape {i}") for i, s in enumerate(shapes)]
    ndim = max((len(s) for s in checked), default=0)
    result = [1] * ndim
    for shape in checked:
        for i, size in enumerate(shape, start=ndim - len(shape)):
            if size == 1:
                continue
            if result[i] == 1:
                result[i] = size
            elif result[i] != size:
                raise ValueError(
                    f"shapes {', '.join(map(str, checked))} are not broadcastable: sizes "
                    f"{result[i]} and {size} clash at dimension {i - ndim} (from the end)"
                )
    return tuple(result)


def broadcast_strides(
    shape: Sequence[int], strides: Sequence[int], target_shape: Sequence[int]
) -> tuple[int, ...]:
    r"""The strides of ``tensor.expand(*target_shape)``, exactly as torch computes them.

    Walking the target dims from the last: an existing dim keeps its stride unless it is
    stretched from size 1, which gives stride 0; a new leading dim gets
    $\text{size}_{i+1} \cdot \text{stride}_{i+1}$ of the dim after it (already expanded), or
    0 if it is stretched beyond 1. A 0-d tensor expands with every stride 0. ``-1`` in
    ``target_shape`` keeps an existing dim's size.

    Raises:
        ValueError: if the dims disagree in length, -1 names a new leading dim, or a
            non-singleton dim would have to change size.
    """
    shape, strides, target = tuple(shape), tuple(strides), tuple(target_shape)
    if len(shape) != len(strides):
        raise ValueError(f"shape {shape} and strides {strides} differ in length")
    if len(target) < len(shape):
        raise ValueError(
            f"the number of sizes in target_shape {target} must be at least the tensor's "
            f"number of dimensions ({len(shape)})"
        )
    new_strides = [0] * len(target)
    new_sizes = list(target)
    if not shape:
        if any(s < 0 for s in target):
            raise ValueError(f"target_shape {target} has a negative size")
        return tuple(new_strides)
    for i in range(len(target) - 1, -1, -1):
        dim = i - (len(target) - len(shape))
        if dim >= 0:
            size, stride = shape[dim], strides[dim]
        else:
            size, stride = 1, new_sizes[i + 1] * new_strides[i + 1]
        wanted = target[i]
        if wanted == -1:
            if dim < 0:
                raise ValueError(
                    f"target size -1 is not allowed in a new leading dimension {i}"
                )
            wanted = size
        if wanted < 0:
            raise ValueError(f"target_shape {target} has a negative size at dimension {i}")
        if size != wanted:
            if size != 1:
                raise ValueError(
                    f"the expanded size ({wanted}) must match the existing size ({size}) "
                    f"at non-singleton dimension {i}; target_shape {target}, shape {shape}"
                )
            size, stride = wanted, 0
        new_sizes[i], new_strides[i] = size, stride
    return tuple(new_strides)


def broadcast_to(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A read-only stride-0 view of ``array`` stretched to ``shape`` (``torch.broadcast_to``,
    ``Tensor.expand``; ``-1`` keeps an existing dim's size).

    Raises:
        ValueError: as [`broadcast_strides`][reference.broadcasting.broadcast_strides].
    """
    array = np.asarray(array)
    target = tuple(int(s) for s in shape)
    strides = tuple(s // max(array.itemsize, 1) for s in array.strides)
    broadcast_strides(array.shape, strides, target)  # validates, with torch's messages
    lead = len(target) - array.ndim
    resolved = tuple(array.shape[i - lead] if s == -1 else s for i, s in enumerate(target))
    return np.broadcast_to(array, resolved)


def sum_to_shape(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    r"""Sum ``array`` back to ``shape``: the backward of broadcasting ``shape`` to
    ``array.shape`` (``Tensor.sum_to_size``).

    Leading dims that ``shape`` lacks are summed away; dims where ``shape`` has size 1 and
    ``array`` does not are summed with ``keepdims``:
    $g_{\text{in}}[j] = \sum_{i \mapsto j} g_{\text{out}}[i]$.

    Raises:
        ValueError: if ``shape`` does not broadcast to ``array.shape``.
    """
    array = np.asarray(array)
    shape = _check_shape(shape, "shape")
    if len(shape) > array.ndim or broadcast_shapes(shape, array.shape) != array.shape:
        raise ValueError(f"shape {shape} is not expandable to size {array.shape}")
    lead = array.ndim - len(shape)
    summed = array.sum(axis=tuple(range(lead))) if lead else array
    stretched = tuple(i for i, s in enumerate(shape) if s == 1 and summed.shape[i] != 1)
    if stretched:
        summed = summed.sum(axis=stretched, keepdims=True)
    return np.asarray(summed).reshape(shape)
