"""Storage, strides and views: a tensor is a strided view of a one-dimensional storage.

A tensor is ``(storage, storage_offset, size, stride)``. Element ``(i_0, ..., i_{n-1})`` lives
at ``storage[offset + sum_d i_d * stride_d]``. View operations compute a new
``(offset, size, stride)`` over the *same* storage and never copy; copies (``clone``,
``contiguous`` on a non-contiguous tensor, ``reshape`` when no view exists) get a new storage.

The index math is a handful of free functions (`contiguous_strides`, `is_contiguous`,
`element_offset`, `view_strides`, `infer_size`); [`StridedTensor`][reference.strides.StridedTensor]
applies them with torch's method names, and indexes as torch does (basic indexing gives views,
advanced indexing copies). NumPy only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

Shape = tuple[int, ...]

_OVERLAP_MESSAGE = (
    "unsupported operation: more than one element of the written-to tensor refers to a "
    "single memory location (a stride-0 dim of size > 1); clone() it first"
)  # raised by writes that read self (copy_, add_, mul_) on a non-empty tensor


def contiguous_strides(shape: Sequence[int]) -> Shape:
    """Row-major strides: ``stride_d = prod_{k > d} max(size_k, 1)``, the last one 1.

    Sizes of 0 count as 1, as in torch, so an empty tensor still has distinct strides.
    """
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * max(int(shape[d + 1]), 1)
    return tuple(strides)


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """torch's rule: empty tensors are contiguous; otherwise, skipping size-1 dims, each
    ``stride_d`` equals the product of the sizes after it."""
    if math.prod(shape) == 0:
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides), strict=True):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


def element_offset(index: Sequence[int], strides: Sequence[int], offset: int = 0) -> int:
    """Storage position of an element: ``offset + sum_d index_d * stride_d``."""
    if len(index) != len(strides):
        raise ValueError(f"index {tuple(index)} has {len(index)} entries for {len(strides)} dims")
    return int(offset + sum(i * s for i, s in zip(index, strides, strict=True)))


def infer_size(shape: Sequence[int], numel: int) -> Shape:
    """Resolve one ``-1`` in ``shape`` so the product equals ``numel`` (torch's ``infer_size``).

    Raises:
        ValueError: two ``-1``, a size below ``-1``, or a product that cannot equal ``numel``.
    """
    shape = tuple(int(s) for s in shape)
    infer_at = None
    known = 1
    for i, size in enumerate(shape):
        if size == -1:
            if infer_at is not None:
                raise ValueError("only one dimension can be inferred")
            infer_at = i
        elif size < 0:
            raise ValueError(f"invalid shape dimension {size} at index {i} of shape {list(shape)}")
        else:
            known *= size
    if infer_at is None:
        if known == numel:
            return shape
    elif known > 0 and numel % known == 0:
        return shape[:infer_at] + (numel // known,) + shape[infer_at + 1 :]
    raise ValueError(f"shape '{list(shape)}' is invalid for input of size {numel}")


def view_strides(
    shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]
) -> Shape | None:
    """Strides that let ``new_shape`` view the same elements, or ``None`` if no view exists.

    torch's rule (``computeStride``): split the old dims into *chunks*, maximal runs where
    ``stride_d = size_{d+1} * stride_{d+1}`` (size-1 dims join any chunk). A view exists iff
    ``new_shape`` splits into consecutive groups whose element counts equal the chunks'; the
    new dims of a chunk get row-major strides scaled by the chunk's innermost stride. New
    size-1 dims take the stride of the group's running extent. An empty tensor keeps its
    strides for the same shape and otherwise takes `contiguous_strides`; a 0-d tensor
    gives all strides 1. ``-1`` in ``new_shape`` is inferred.

    Raises:
        ValueError: ``new_shape`` does not hold ``prod(shape)`` elements.
    """
    shape, strides = tuple(shape), tuple(strides)
    numel = math.prod(shape)
    new_shape = infer_size(new_shape, numel)
    if not shape:
        return (1,) * len(new_shape)
    if numel == 0:
        return strides if new_shape == shape else contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = strides[-1]
    chunk_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        chunk_numel *= shape[d]
        chunk_ends = d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * chunk_base)
        if not chunk_ends:
            continue
        while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
            new_strides[view_d] = view_numel * chunk_base
            view_numel *= new_shape[view_d]
            view_d -= 1
        if view_numel != chunk_numel:
            return None
        if d > 0:
            chunk_base, chunk_numel, view_numel = strides[d - 1], 1, 1
    return tuple(new_strides) if view_d == -1 else None


def iterator_strides(shape: Sequence[int], inputs: Sequence[tuple[Shape, Shape]]) -> Shape:
    """The strides of the output torch's ``TensorIterator`` allocates for ``inputs``, each a
    ``(shape, strides)`` that broadcasts to ``shape``.

    When every input has the output's shape and is contiguous (for `advanced_index_strides`
    only possible when the result is empty or all its sizes are 1; torch's other fast cases,
    all inputs channels-last or dense with one layout, cannot arise there) the output is
    contiguous. Otherwise each input is broadcast (stride 0 on a stretched or new dim) and
    the dims are ordered innermost first by insertion sort from the reversed order:
    ``d0`` goes inside ``d1`` when the first input with non-zero strides on both has
    ``stride_d0 < stride_d1``, outside when greater; on equal strides the larger size goes
    outside, and an input with a zero stride on either dim leaves the order to the next.
    When no dim moved the output is contiguous; otherwise it is dense in that order, each
    stride the product of the sizes inside it (a size 0 included).
    """
    shape = tuple(shape)
    n = len(shape)
    if all(tuple(s) == shape and is_contiguous(shape, st) for s, st in inputs):
        return contiguous_strides(shape)
    operand_strides = [
        tuple(0 if d < n - len(s) or s[d - n + len(s)] != shape[d] else st[d - n + len(s)]
              for d in range(n))
        for s, st in inputs
    ]
    contiguous_order = list(range(n))[::-1]
    perm = contiguous_order.copy()

    def outside(d0: int, d1: int) -> int:
        for strides in operand_strides:
            s0, s1 = strides[d0], strides[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return 1 if s0 > s1 else -1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    for i in range(1, n):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            order = outside(perm[d0], perm[d1])
            if order > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif order < 0:
                break
    if perm == contiguous_order:
        return contiguous_strides(shape)
    out, inner = [0] * n, 1
    for d in perm:
        out[d], inner = inner, inner * shape[d]
    return tuple(out)


def expand_strides(shape: Sequence[int], strides: Sequence[int], target: Sequence[int]) -> Shape:
    """``expand``'s strides (STRIDE-4): a stretched dim, or a new leading dim of size > 1,
    gets stride 0; a new leading dim of size 1 ``size_{d+1} * stride_{d+1}``."""
    if not shape:
        return (0,) * len(target)
    out = [0] * len(target)
    lead = len(target) - len(shape)
    for i in range(len(target) - 1, -1, -1):
        old = i - lead
        size = shape[old] if old >= 0 else 1
        stride = strides[old] if old >= 0 else target[i + 1] * out[i + 1]
        out[i] = 0 if size != target[i] else stride
    return tuple(out)


IndexLayout = tuple[Shape, Shape]  # an index tensor's (shape, strides)


def advanced_index_strides(
    shape: Sequence[int],
    strides: Sequence[int],
    indices: Sequence[IndexLayout | None],
    device: str = "cpu",
) -> Shape:
    """The strides of ``t[key]`` for an advanced key (STRIDE-13): torch's ``index`` kernel.

    ``indices`` has one entry per dim of ``t`` (after the basic entries are applied): the
    index tensor's ``(shape, strides)`` on an indexed dim (a k-dim mask stands for the k
    columns of its ``nonzero()``, shape ``(nnz,)``, stride ``k``), else ``None``. When the
    indexed dims are not adjacent they are permuted to the front. The index tensors
    broadcast to ``R`` (``expand``), which replaces the indexed dims; the result is the
    output of a ``TensorIterator`` (`iterator_strides`) over the source (stride 0 on ``R``'s
    dims) and each index reshaped to ``(1,)*before + R + (1,)*after``. On CUDA (MPS, XPU),
    two or more reshaped index tensors whose strides differ are all made contiguous first.
    """
    shape, strides, indices = list(shape), list(strides), list(indices)
    indexed = [d for d, e in enumerate(indices) if e is not None]
    if indexed != list(range(indexed[0], indexed[-1] + 1)):
        order = indexed + [d for d in range(len(shape)) if d not in indexed]
        shape, strides = [shape[d] for d in order], [strides[d] for d in order]
        indices = [indices[d] for d in order]
    before = next(d for d, e in enumerate(indices) if e is not None)
    after = before + len(indexed)
    layouts = [e for e in indices if e is not None]
    common = tuple(np.broadcast_shapes(*(s for s, _ in layouts)))
    out_shape = (*shape[:before], *common, *shape[after:])
    ones = (1,) * before, (1,) * (len(shape) - after)
    index_shape = (*ones[0], *common, *ones[1])
    reshaped = []
    for s, st in layouts:
        st = st if tuple(s) == common else expand_strides(s, st, common)
        reshaped.append(view_strides(common, st, index_shape) or contiguous_strides(index_shape))
    if device.split(":")[0] in ("cuda", "mps", "xpu") and len(set(reshaped)) > 1:
        reshaped = [contiguous_strides(index_shape)] * len(reshaped)
    source = (*strides[:before], *(0,) * len(common), *strides[after:])
    inputs = [(out_shape, source)] + [(index_shape, st) for st in reshaped]
    return iterator_strides(out_shape, inputs)


def _wrap_dim(dim: int, ndim: int) -> int:
    """A dim in ``[-ndim, ndim)`` as a non-negative index; a 0-d tensor accepts 0 and -1."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _sizes_arg(sizes: tuple[Any, ...]) -> Shape:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the sizes ``(2, 3)``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(int(s) for s in sizes)


def _is_bool(k: Any) -> bool:
    """A Python or NumPy bool, or a 0-d bool array: indexes like ``True``/``False``."""
    return isinstance(k, (bool, np.bool_)) or (
        isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype == np.bool_
    )


def _is_int(k: Any) -> bool:
    """A Python or NumPy int, or a 0-d integer array: indexes like an int (``select``)."""
    if isinstance(k, np.ndarray):
        return k.ndim == 0 and k.dtype.kind in "iu" and k.dtype != np.uint8
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _as_index_array(k: Any) -> Any:
    """A list, array or ``StridedTensor`` entry as a NumPy index array (int64 or bool);
    other entries unchanged. torch's index dtypes: int64, int32, bool, and uint8 (a mask)."""
    if isinstance(k, StridedTensor):
        k = k.numpy()
    elif isinstance(k, (list, tuple)):
        k = np.asarray(k)
        if k.size == 0:  # an empty list indexes as an empty int64 tensor
            k = k.astype(np.int64)
    elif not isinstance(k, np.ndarray):
        if k is None or k is Ellipsis or isinstance(k, slice) or _is_bool(k) or _is_int(k):
            return k
        raise IndexError(
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
            f"are valid indices (got {type(k).__name__})"
        )
    if k.dtype == np.uint8:
        warnings.warn(
            "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
            "instead.",
            UserWarning,
            stacklevel=4,
        )
        k = k.astype(np.bool_)
    if k.ndim == 0 and k.dtype.kind in "biu":
        return k
    if k.dtype == np.bool_:
        return k
    if k.dtype in (np.int64, np.int32):
        return k.astype(np.int64)
    raise IndexError(
        f"tensors used as indices must be long, int, byte or bool tensors, got {k.dtype}"
    )


def _broadcasts_to(shape: Shape, target: Shape) -> bool:
    """Whether ``shape`` expands to ``target`` (aligned from the right, sizes equal or 1)."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target), strict=False))


def _key_entries(key: Any, ndim: int) -> list[Any]:
    """The entries of an index key. A tuple is a sequence of entries; a list is one index
    array, unless (torch's legacy NumPy rule) it has fewer than 32 items and one of them is
    a sequence, slice, ``...`` or ``None``: then it is read as a tuple."""
    if isinstance(key, list) and len(key) < 32 and any(
        isinstance(k, (list, tuple, np.ndarray, StridedTensor, slice)) or k is None or k is Ellipsis
        for k in key
    ):
        key = tuple(key)
    entries = key if isinstance(key, tuple) else (key,)
    return [_as_index_array(k) for k in entries]


def _dims_consumed(entry: Any) -> int:
    """How many dims of the input an entry indexes: a k-dim mask k, ``None``, ``...`` and
    bools 0, everything else 1."""
    if entry is None or entry is Ellipsis or _is_bool(entry):
        return 0
    if isinstance(entry, np.ndarray) and entry.dtype == np.bool_:
        return entry.ndim
    return 1


def _numpy_key(shape: Shape, advanced: dict[int, np.ndarray]) -> tuple:
    """Check the advanced entries against the view's ``shape`` (torch's messages) and build
    the NumPy key: full slices, the int arrays with negative indices wrapped, the masks.
    NumPy places the broadcast index dims as torch does: in place when the indexed dims are
    adjacent, else first."""
    key: list[Any] = []
    index_shapes = []
    d = 0
    while d < len(shape):
        if d not in advanced:
            key.append(slice(None))
            d += 1
            continue
        index = advanced[d]
        if index.dtype == np.bool_:
            covered = shape[d : d + index.ndim]
            if index.shape != covered:
                j = next(
                    j for j in range(index.ndim) if covered[j : j + 1] != index.shape[j : j + 1]
                )
                raise IndexError(
                    f"The shape of the mask {list(index.shape)} at index {j} does not match "
                    f"the shape of the indexed tensor {list(shape)} at index {d + j}"
                )
            index_shapes.append((int(index.sum()),))
            d += index.ndim
        else:
            size = shape[d]
            if index.size and (index.min() < -size or index.max() >= size):
                bad = index[(index < -size) | (index >= size)].flat[0]
                raise IndexError(
                    f"index {bad} is out of bounds for dimension {d} with size {size}"
                )
            index = np.where(index < 0, index + size, index)
            index_shapes.append(index.shape)
            d += 1
        key.append(index)
    try:
        np.broadcast_shapes(*index_shapes)
    except ValueError:
        shapes = ", ".join(str(list(s)) for s in index_shapes)
        raise IndexError(
            f"shape mismatch: indexing tensors could not be broadcast together with shapes "
            f"{shapes}"
        ) from None
    return tuple(key)


def _index_layouts(np_key: tuple) -> list[IndexLayout | None]:
    """Per dim, the layout of torch's index tensor (`advanced_index_strides`): an index
    array is a new contiguous tensor, a k-dim mask k columns of its ``nonzero()``."""
    layouts: list[IndexLayout | None] = []
    for k in np_key:
        if isinstance(k, slice):
            layouts.append(None)
        elif k.dtype == np.bool_:
            layouts.extend([((int(k.sum()),), (k.ndim,))] * k.ndim)
        else:
            layouts.append((k.shape, contiguous_strides(k.shape)))
    return layouts


def in_stride_order(values: np.ndarray, strides: Sequence[int]) -> np.ndarray:
    """A copy of ``values`` laid out in memory in the order of dense ``strides`` (the dim of
    the largest stride outermost)."""
    order = sorted(range(values.ndim), key=lambda d: -strides[d])
    return np.ascontiguousarray(values.transpose(order)).transpose(np.argsort(order))


class StridedTensor:
    """A view ``(storage, shape, strides, offset)`` of a 1-D NumPy ``storage``.

    Methods keep torch's names. Views return a ``StridedTensor`` over the same ``storage``
    object, so two tensors share memory iff ``a.storage is b.storage``.
    """

    def __init__(
        self,
        storage: np.ndarray,
        shape: Sequence[int],
        strides: Sequence[int],
        offset: int = 0,
    ) -> None:
        shape, strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
        if storage.ndim != 1:
            raise ValueError(f"storage must be 1-D, got {storage.ndim} dims")
        if len(shape) != len(strides):
            raise ValueError(f"shape {shape} and strides {strides} differ in length")
        if any(s < 0 for s in shape):
            raise ValueError(f"Trying to create tensor with negative dimension: {list(shape)}")
        if any(s < 0 for s in strides) or offset < 0:
            raise ValueError(f"negative strides {strides} or offset {offset} are not supported")
        if math.prod(shape) > 0:
            needed = offset + 1 + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
            if needed > storage.size:
                raise ValueError(
                    f"sizes {list(shape)}, strides {list(strides)} and storage offset {offset} "
                    f"need a storage of {needed} elements, out of bounds for size {storage.size}"
                )
        self.storage = storage
        self._shape, self._strides, self._offset = shape, strides, int(offset)

    # --- shape and layout ------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        """The sizes, as in ``torch.Tensor.shape``."""
        return self._shape

    @property
    def ndim(self) -> int:
        """Number of dims."""
        return len(self._shape)

    @property
    def dtype(self) -> np.dtype:
        """The storage's dtype."""
        return self.storage.dtype

    def size(self, dim: int | None = None) -> Shape | int:
        """The sizes, or one size."""
        return self._shape if dim is None else self._shape[_wrap_dim(dim, self.ndim)]

    def stride(self, dim: int | None = None) -> Shape | int:
        """The strides (in elements), or one stride."""
        return self._strides if dim is None else self._strides[_wrap_dim(dim, self.ndim)]

    def storage_offset(self) -> int:
        """Position in the storage of the element at index ``(0, ..., 0)``."""
        return self._offset

    def dim(self) -> int:
        """Number of dims."""
        return self.ndim

    def numel(self) -> int:
        """Number of elements, ``prod(size)`` (1 for a 0-d tensor)."""
        return math.prod(self._shape)

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def is_contiguous(self) -> bool:
        """See [`is_contiguous`][reference.strides.is_contiguous]."""
        return is_contiguous(self._shape, self._strides)

    def __repr__(self) -> str:
        return (
            f"StridedTensor(size={self._shape}, stride={self._strides}, "
            f"storage_offset={self._offset}, values={self.tolist()})"
        )

    # --- values ------------------------------------------------------------------------
    def _addresses(self) -> np.ndarray:
        """Storage position of every element: ``offset + sum_d arange(size_d) * stride_d``."""
        addresses = np.full(self._shape, self._offset, dtype=np.int64)
        for d, (size, stride) in enumerate(zip(self._shape, self._strides, strict=True)):
            axis_shape = [1] * self.ndim
            axis_shape[d] = size
            addresses = addresses + (np.arange(size, dtype=np.int64) * stride).reshape(axis_shape)
        return addresses

    def numpy(self) -> np.ndarray:
        """The values, gathered from the storage into a new array of shape ``size()``."""
        return np.array(self.storage[self._addresses()], dtype=self.dtype)

    def tolist(self) -> Any:
        """The values as (nested) Python lists, or a number for a 0-d tensor."""
        return self.numpy().tolist()

    # --- views -------------------------------------------------------------------------
    def _alias(self, shape: Sequence[int], strides: Sequence[int], offset: int) -> StridedTensor:
        return StridedTensor(self.storage, shape, strides, offset)

    def view(self, *shape: int | Sequence[int]) -> StridedTensor:
        """Same storage, new shape, strides from `view_strides`.

        Raises:
            ValueError: the sizes don't hold ``numel()`` elements, or no strides fit.
        """
        new_shape = infer_size(_sizes_arg(shape), self.numel())
        strides = view_strides(self._shape, self._strides, new_shape)
        if strides is None:
            raise ValueError(
                f"view size {list(new_shape)} is not compatible with input tensor's size "
                f"{list(self._shape)} and stride {list(self._strides)} (at least one dimension "
                "spans across two contiguous subspaces). Use .reshape(...) instead."
            )
        return self._alias(new_shape, strides, self._offset)

    def reshape(self, *shape: int | Sequence[int]) -> StridedTensor:
        """``view`` when `view_strides` finds strides, else a contiguous copy."""
        new_shape = infer_size(_sizes_arg(shape), self.numel())
        strides = view_strides(self._shape, self._strides, new_shape)
        if strides is None:
            return self.clone().view(new_shape)
        return self._alias(new_shape, strides, self._offset)

    def transpose(self, dim0: int, dim1: int) -> StridedTensor:
        """Swap the sizes and strides of two dims."""
        d0, d1 = _wrap_dim(dim0, self.ndim), _wrap_dim(dim1, self.ndim)
        shape, strides = list(self._shape), list(self._strides)
        if self.ndim:
            shape[d0], shape[d1] = shape[d1], shape[d0]
            strides[d0], strides[d1] = strides[d1], strides[d0]
        return self._alias(shape, strides, self._offset)

    def t(self) -> StridedTensor:
        """``transpose(0, 1)`` for 2-D, an alias for 0-D and 1-D tensors."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, -1) if self.ndim == 2 else self.transpose(0, 0)

    def permute(self, *dims: int | Sequence[int]) -> StridedTensor:
        """Reorder the dims: new dim ``i`` is old dim ``dims[i]``."""
        order = _sizes_arg(dims)
        if len(order) != self.ndim:
            raise ValueError(
                f"permute(): number of dims in dims ({len(order)}) does not match "
                f"the tensor's dim() ({self.ndim})"
            )
        wrapped = [_wrap_dim(d, self.ndim) for d in order]
        if len(set(wrapped)) != len(wrapped):
            raise ValueError(f"permute(): duplicate dims are not allowed: {order}")
        return self._alias(
            [self._shape[d] for d in wrapped], [self._strides[d] for d in wrapped], self._offset
        )

    def expand(self, *sizes: int | Sequence[int]) -> StridedTensor:
        """Broadcast size-1 dims to ``sizes`` with stride 0, aligning dims from the right.

        ``-1`` keeps a size. A new leading dim gets stride 0 when its size is not 1, else
        ``size_{d+1} * stride_{d+1}`` of the dim after it; every stride of an expanded 0-d
        tensor is 0.
        """
        target = _sizes_arg(sizes)
        if len(target) < self.ndim:
            raise ValueError(
                f"expand: the number of sizes provided ({len(target)}) must be greater or "
                f"equal to the number of dimensions in the tensor ({self.ndim})"
            )
        for s in target:
            if s < -1:
                raise ValueError(
                    f"expand: the expanded size of the tensor ({s}) is negative, in sizes "
                    f"{list(target)}"
                )
        if self.ndim == 0:
            if -1 in target:
                raise ValueError(f"expand: size -1 not allowed for a 0-d tensor: {list(target)}")
            return self._alias(target, (0,) * len(target), self._offset)
        shape = [0] * len(target)
        lead = len(target) - self.ndim
        for i in range(len(target) - 1, -1, -1):
            old = i - lead
            size = self._shape[old] if old >= 0 else 1
            want = target[i]
            if want == -1:
                if old < 0:
                    raise ValueError(
                        f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                        f"non-existing dimension {i}"
                    )
                want = size
            if size not in (want, 1):
                raise ValueError(
                    f"The expanded size of the tensor ({want}) must match the existing "
                    f"size ({size}) at non-singleton dimension {i}"
                )
            shape[i] = want
        strides = expand_strides(self._shape, self._strides, shape)
        return self._alias(shape, strides, self._offset)

    def select(self, dim: int, index: int) -> StridedTensor:
        """Drop ``dim``, moving the offset by ``index * stride[dim]``."""
        if self.ndim == 0:
            raise IndexError("select() cannot be applied to a 0-dim tensor.")
        d = _wrap_dim(dim, self.ndim)
        size = self._shape[d]
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of bounds for dimension {d} with size {size}")
        offset = self._offset + (index % size) * self._strides[d]
        shape = self._shape[:d] + self._shape[d + 1 :]
        return self._alias(shape, self._strides[:d] + self._strides[d + 1 :], offset)

    def _slice(self, d: int, start: int | None, stop: int | None, step: int) -> StridedTensor:
        """Python slicing ``start:stop:step`` (step > 0) of dim ``d``, clamped to the size:
        offset ``+= start * stride``, size ``ceil((stop - start) / step)``, stride ``*= step``."""
        start, stop, _ = slice(start, stop, step).indices(self._shape[d])
        stop = max(stop, start)
        shape, strides = list(self._shape), list(self._strides)
        shape[d] = -(-(stop - start) // step)
        strides[d] *= step
        return self._alias(shape, strides, self._offset + start * self._strides[d])

    def narrow(self, dim: int, start: int, length: int) -> StridedTensor:
        """``length`` elements of ``dim`` from ``start`` (a negative start counts from the end)."""
        if self.ndim == 0:
            raise ValueError("narrow() cannot be applied to a 0-dim tensor.")
        if length < 0:
            raise ValueError(f"narrow(): length must be non-negative, got {length}")
        d = _wrap_dim(dim, self.ndim)
        size = self._shape[d]
        if not -size <= start <= size:
            raise IndexError(
                f"start out of range (expected to be in range of [{-size}, {size}], "
                f"but got {start})"
            )
        start = start + size if start < 0 else start
        if start + length > size:
            raise ValueError(
                f"start ({start}) + length ({length}) exceeds dimension size ({size})."
            )
        return self._slice(d, start, start + length, 1)

    def _plan(self, key: Any) -> tuple[StridedTensor, tuple | None]:
        """Torch's ``applySlicing``: apply the basic entries of ``key`` in order, as views, and
        record the advanced ones (index arrays, masks, Python bools) at the dim they index.

        Returns the view and, when ``key`` has an advanced entry, the NumPy key (full slices
        and index arrays, one entry per dim of the view, a k-dim mask covering k dims) that
        selects the result's elements from the view."""
        entries = _key_entries(key, self.ndim)
        specified = sum(_dims_consumed(e) for e in entries)
        if not isinstance(key, (tuple, list)) and _is_int(key) and self.ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor")
        if sum(1 for e in entries if e is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        if specified > self.ndim:
            raise IndexError(f"too many indices for tensor of dimension {self.ndim}")
        result, d = self, 0
        advanced: dict[int, np.ndarray] = {}
        for k in entries:
            if k is Ellipsis:
                d += self.ndim - specified
            elif k is None:
                result = result.unsqueeze(d)
                d += 1
            elif isinstance(k, slice):
                step = 1 if k.step is None else int(k.step)
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                if step < 0:
                    raise ValueError("step must be greater than zero")
                result = result._slice(d, k.start, k.stop, step)
                d += 1
            elif _is_bool(k):  # unsqueeze, then index the new dim with [0] (True) or [] (False)
                result = result.unsqueeze(d)
                advanced[d] = np.zeros(1 if bool(k) else 0, dtype=np.int64)
                d += 1
            elif _is_int(k):
                result = result.select(d, int(k))
            else:  # an index array (int) or a mask (bool) of at least one dim
                advanced[d] = k
                d += k.ndim if k.dtype == np.bool_ else 1
        if result is self:  # `t[...]` is a new alias, not `t` itself
            result = self._alias(self._shape, self._strides, self._offset)
        if not advanced:
            return result, None
        return result, _numpy_key(result.shape, advanced)

    def __getitem__(self, key: Any) -> StridedTensor:
        """Indexing as torch does it.

        Basic indexing gives a view: ints select, slices (step > 0) narrow, ``None`` inserts a
        size-1 dim (as ``unsqueeze``), ``...`` stands for the remaining dims. Advanced
        indexing (integer lists and arrays, boolean masks, a Python ``bool``) gives a copy in
        a new storage: the index arrays broadcast together (a k-dim mask counts as its
        ``nonzero()``, k index arrays over k dims) and their broadcast shape replaces the
        dims they index, in place when those dims are adjacent, else at the front. Ints are
        applied first as ``select``, so they never separate advanced dims.

        Raises:
            IndexError: too many indices, an index out of bounds, a mask whose shape differs
                from the dims it covers, index arrays that do not broadcast, a non-integer
                index.
        """
        view, np_key = self._plan(key)
        if np_key is None:
            return view
        values = view.storage[view._addresses()[np_key]]
        strides = advanced_index_strides(view.shape, view.stride(), _index_layouts(np_key))
        storage = in_stride_order(values, strides).ravel(order="K")
        return StridedTensor(storage, values.shape, strides)

    def index_strides(self, key: Any, device: str = "cpu") -> Shape:
        """The strides torch gives ``self[key]`` on ``device``: a basic key's view's, or for
        an advanced key `advanced_index_strides` of the view the basic entries give."""
        view, np_key = self._plan(key)
        if np_key is None:
            return view.stride()
        return advanced_index_strides(view.shape, view.stride(), _index_layouts(np_key), device)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> StridedTensor:
        """Drop size-1 dims (all, or those in ``dim``; other dims named are kept)."""
        if dim is None:
            dims = set(range(self.ndim))
        else:
            dims = {_wrap_dim(d, self.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        keep = [d for d in range(self.ndim) if not (d in dims and self._shape[d] == 1)]
        return self._alias(
            [self._shape[d] for d in keep], [self._strides[d] for d in keep], self._offset
        )

    def unsqueeze(self, dim: int) -> StridedTensor:
        """Insert a size-1 dim at ``dim`` with stride ``size[dim] * stride[dim]`` (1 at the end)."""
        d = _wrap_dim(dim, self.ndim + 1)
        stride = self._shape[d] * self._strides[d] if d < self.ndim else 1
        return self._alias(
            self._shape[:d] + (1,) + self._shape[d:],
            self._strides[:d] + (stride,) + self._strides[d:],
            self._offset,
        )

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> StridedTensor:
        """``reshape`` merging dims ``start_dim..end_dim``; ``self`` when they are one dim."""
        start, end = _wrap_dim(start_dim, self.ndim), _wrap_dim(end_dim, self.ndim)
        if self.ndim == 0:  # dims 0 and -1 only, as for every op on a 0-d tensor
            return self.reshape(1)
        if start > end:
            raise ValueError("flatten() has invalid args: start_dim cannot come after end_dim")
        if start == end:
            return self
        merged = math.prod(self._shape[start : end + 1])
        return self.reshape(self._shape[:start] + (merged,) + self._shape[end + 1 :])

    def unflatten(self, dim: int, sizes: Sequence[int]) -> StridedTensor:
        """``view`` splitting ``dim`` into ``sizes`` (one ``-1`` is inferred)."""
        d = _wrap_dim(dim, self.ndim)
        if len(sizes) == 0:
            raise ValueError("unflatten: sizes must be non-empty")
        try:
            sizes = infer_size(sizes, self._shape[d])
        except ValueError as error:
            raise ValueError(
                f"unflatten: sizes {list(sizes)} don't multiply up to the size of dim {d} "
                f"({self._shape[d]}): {error}"
            ) from None
        return self.view(self._shape[:d] + sizes + self._shape[d + 1 :])

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> StridedTensor:
        """Diagonal of dims ``dim1, dim2`` as a new last dim with stride
        ``stride[dim1] + stride[dim2]``; ``offset > 0`` starts at column ``offset``."""
        d1, d2 = _wrap_dim(dim1, self.ndim), _wrap_dim(dim2, self.ndim)
        if d1 == d2:
            raise ValueError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        n1, n2 = self._shape[d1], self._shape[d2]
        length = max(min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2), 0)
        start = self._offset
        if length > 0:
            start += offset * self._strides[d2] if offset >= 0 else -offset * self._strides[d1]
        keep = [d for d in range(self.ndim) if d not in (d1, d2)]
        return self._alias(
            [self._shape[d] for d in keep] + [length],
            [self._strides[d] for d in keep] + [self._strides[d1] + self._strides[d2]],
            start,
        )

    def as_strided(
        self, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None
    ) -> StridedTensor:
        """Any ``(size, stride, offset)`` inside the storage (offset defaults to this one's)."""
        offset = self._offset if storage_offset is None else storage_offset
        return self._alias(size, stride, offset)

    def unfold(self, dimension: int, size: int, step: int) -> StridedTensor:
        """Windows of ``size`` every ``step`` along ``dimension``, as a new last dim:
        ``size[d] = (size[d] - size) // step + 1``, ``stride[d] *= step``, new stride
        ``stride[d]``."""
        d = _wrap_dim(dimension, self.ndim)
        length = self._shape[d] if self.ndim else 1
        if size < 0:
            raise ValueError(f"unfold: size is {size} but must be >= 0")
        if size > length:
            raise ValueError(
                f"unfold: maximum size for tensor at dimension {d} is {length} but size is {size}"
            )
        if step <= 0:
            raise ValueError(f"unfold: step is {step} but must be > 0")
        shape, strides = list(self._shape), list(self._strides)
        base_stride = strides[d] if self.ndim else 1
        if self.ndim:
            shape[d] = (length - size) // step + 1
            strides[d] = base_stride * step
        return self._alias(shape + [size], strides + [base_stride], self._offset)

    # --- copies ------------------------------------------------------------------------
    def clone(self) -> StridedTensor:
        """A copy in a new storage with `contiguous_strides` (torch's
        ``clone(memory_format=torch.contiguous_format)``)."""
        return StridedTensor(self.numpy().reshape(-1), self._shape, contiguous_strides(self._shape))

    def contiguous(self) -> StridedTensor:
        """``self`` if `is_contiguous()`, else `clone()`."""
        return self if self.is_contiguous() else self.clone()

    # --- writes (all return self and write through to the shared storage) ---------------
    def _write(self, values: Any, *, check_overlap: bool) -> StridedTensor:
        if check_overlap and self.numel() and any(
            st == 0 and n > 1 for n, st in zip(self._shape, self._strides, strict=True)
        ):
            raise ValueError(_OVERLAP_MESSAGE)
        values = values.numpy() if isinstance(values, StridedTensor) else np.asarray(values)
        if np.broadcast_shapes(values.shape, self._shape) != self._shape:
            raise ValueError(
                f"output with shape {list(self._shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(values.shape, self._shape))}"
            )
        self.storage[self._addresses()] = np.broadcast_to(values, self._shape)
        return self

    def copy_(self, src: StridedTensor | np.ndarray | float) -> StridedTensor:
        """Write ``src`` (broadcast to ``size()``) into this view's elements."""
        return self._write(src, check_overlap=True)

    def fill_(self, value: float) -> StridedTensor:
        """Set every element to ``value`` (allowed on expanded, stride-0 views)."""
        return self._write(value, check_overlap=False)

    def zero_(self) -> StridedTensor:
        """``fill_(0)``."""
        return self.fill_(0)

    def add_(
        self, other: StridedTensor | np.ndarray | float, *, alpha: float = 1
    ) -> StridedTensor:
        """``self += alpha * other`` in place."""
        other = other.numpy() if isinstance(other, StridedTensor) else np.asarray(other)
        return self._write(self.numpy() + alpha * other, check_overlap=True)

    def mul_(self, other: StridedTensor | np.ndarray | float) -> StridedTensor:
        """``self *= other`` in place."""
        other = other.numpy() if isinstance(other, StridedTensor) else np.asarray(other)
        return self._write(self.numpy() * other, check_overlap=True)

    def __setitem__(self, key: Any, value: StridedTensor | np.ndarray | float) -> None:
        """``self[key] = value`` writes through to the storage.

        ``value`` may have extra leading size-1 dims and broadcasts to the indexed shape.
        A basic key copies into the view (``copy_``, which refuses a view with a stride-0 dim
        of size > 1); an advanced key is torch's ``index_put_``: it writes the selected
        elements of the view (warning, not refusing, on such a view), and an array value
        must have the storage's dtype.

        Raises:
            ValueError: ``value`` does not broadcast to the indexed shape, or (advanced key)
                an array ``value`` of another dtype.
        """
        view, np_key = self._plan(key)
        is_array = isinstance(value, (StridedTensor, np.ndarray))
        if is_array and np_key is not None and value.dtype != self.dtype:
            raise ValueError(
                f"Index put requires the source and destination dtypes match, got "
                f"{self.dtype} for the destination and {value.dtype} for the source."
            )
        array = value.numpy() if isinstance(value, StridedTensor) else np.asarray(value)
        ones = 0
        while ones < array.ndim and array.shape[ones] == 1:  # torch's slicePrefix1sSize
            ones += 1
        array = array.reshape(array.shape[ones:])
        if np_key is None:
            view.copy_(array)
            return
        addresses = view._addresses()[np_key]
        target = addresses.shape
        if not _broadcasts_to(array.shape, target):
            raise ValueError(
                f"shape mismatch: value tensor of shape {list(np.shape(value))} cannot be "
                f"broadcast to indexing result of shape {list(target)}"
            )
        if view.numel() and any(
            st == 0 and n > 1 for n, st in zip(view.shape, view.stride(), strict=True)
        ):
            warnings.warn(
                "Use of index_put_ on expanded tensors is deprecated. Please clone() the "
                "tensor before performing this operation.",
                UserWarning,
                stacklevel=2,
            )
        self.storage[addresses] = np.broadcast_to(array, target)


def tensor(values: Any, dtype: np.dtype | type | None = None) -> StridedTensor:
    """A contiguous tensor holding a copy of ``values`` (nested lists or an array).

    As in torch, Python floats default to float32; an array keeps its dtype.
    """
    array = np.array(values, dtype=dtype)
    if dtype is None and not isinstance(values, np.ndarray) and array.dtype == np.float64:
        array = array.astype(np.float32)
    return StridedTensor(array.reshape(-1), array.shape, contiguous_strides(array.shape))
