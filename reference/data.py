"""Datasets and loading from first principles: the DataLoader's batch arithmetic, the order
of a shuffled epoch, ``default_collate``'s rules, the dataset helpers (``TensorDataset``,
``Subset``, ``ConcatDataset``, ``random_split``), the notes' folder datasets and readers of
the real MNIST (idx) and CIFAR-10 (pickle) files.

Plain Python and NumPy, except where the spec is a torch workflow: the order of a shuffled
epoch is computed by ``reference.random`` from the state of the loader's ``torch.Generator``
(and written back, advanced, as the epoch leaves it), and
[`ShardedRange`][reference.data.ShardedRange] is a ``torch.utils.data.IterableDataset`` (the
loader only treats a subclass of it as iterable-style).
"""

from __future__ import annotations

import bisect
import copy
import gzip
import math
import os
import pickle
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
import torch
from PIL import Image

from reference import random

# --- the loader's arithmetic ------------------------------------------------------------


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """``len(DataLoader)`` over ``n`` samples: $\\lceil n / b \\rceil$, or
    $\\lfloor n / b \\rfloor$ with ``drop_last``."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(
            f"batch_size should be a positive integer value, but got batch_size={batch_size}"
        )
    return n // batch_size if drop_last else -(-n // batch_size)


def batch_sizes(n: int, batch_size: int, drop_last: bool = False) -> list[int]:
    """The size of each batch in one epoch: full batches of ``batch_size``, then the
    remainder ``n mod b`` as a last, smaller batch unless ``drop_last`` (or it is 0)."""
    num_batches(n, batch_size)  # validates batch_size
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([rest] if rest and not drop_last else [])


def _drawn_by_reference(generator: torch.Generator | random.Generator, draw: Any) -> Any:
    """``draw(g)`` on a reference generator ``g`` holding ``generator``'s state; a
    ``torch.Generator`` is then advanced exactly as torch's own draws would advance it
    (DESIGN principle 1: the shuffle order comes from ``reference.random``)."""
    if isinstance(generator, random.Generator):
        return draw(generator)
    reference = random.Generator().set_state(generator.get_state().numpy())
    result = draw(reference)
    generator.set_state(torch.from_numpy(reference.get_state()))
    return result


def shuffle_order(n: int, generator: torch.Generator | random.Generator) -> list[int]:
    """The sample order of one full epoch of ``DataLoader(ds, shuffle=True, generator=g)``,
    advancing ``g`` as the epoch does (``g`` a ``torch.Generator`` or a
    ``reference.random.Generator``).

    Starting the epoch (``iter(loader)``) draws the workers' base seed, one int64, from
    ``g``; the ``RandomSampler`` then yields ``torch.randperm(n, generator=g)``, and when it
    is exhausted draws one more ``randperm(n)`` for the ``num_samples % n = 0`` extra
    samples (none are used). So one seeded generator reproduces every epoch, and an epoch
    left early (``break``) shifts the orders of the epochs after it. The permutations are
    computed by ``reference.random`` from the generator's state.
    """

    def epoch(g: random.Generator) -> list[int]:
        g.random_((), "int64")  # the workers' base seed
        order = g.randperm(n).tolist()
        g.randperm(n)  # the sampler's (empty) remainder draw
        return order

    return _drawn_by_reference(generator, epoch)


def worker_shard(start: int, end: int, worker_id: int, num_workers: int) -> range:
    """The part of ``range(start, end)`` that worker ``worker_id`` of ``num_workers`` yields
    when an IterableDataset splits its stream: contiguous chunks of
    $\\lceil (end - start) / \\mathrm{num\\_workers} \\rceil$."""
    per_worker = math.ceil((end - start) / num_workers)
    lo = start + worker_id * per_worker
    return range(lo, min(lo + per_worker, end))


class ShardedRange(torch.utils.data.IterableDataset):
    """An iterable-style dataset yielding ``start, ..., end - 1`` once in total, however many
    loader workers run it: each worker reads ``get_worker_info()`` and yields only its
    [`worker_shard`][reference.data.worker_shard]. (Without that, every worker replays the
    whole stream.)"""

    def __init__(self, start: int, end: int) -> None:
        super().__init__()
        self.start, self.end = start, end

    def __iter__(self) -> Iterator[int]:
        info = torch.utils.data.get_worker_info()
        if info is None:  # loading in the main process
            return iter(range(self.start, self.end))
        return iter(worker_shard(self.start, self.end, info.id, info.num_workers))


# --- collation ---------------------------------------------------------------------------


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, with ``default_collate``'s rules on NumPy and
    Python values (a torch tensor there is a NumPy array here):

    - arrays of equal shape are stacked on a new first axis (object/string arrays raise);
    - NumPy scalars become an array of their dtype; Python ``float`` float64, ``int`` int64,
      ``bool`` bool;
    - ``str`` and ``bytes`` are left as the sequence they came in;
    - a mapping is collated per key (into the same mapping type); a namedtuple per field;
    - any other sequence is transposed and collated per position, into a **list** for a
      tuple, the same type for a list; sequences of unequal length raise.
    """
    elem = batch[0]
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise TypeError(f"default_collate: cannot collate arrays of dtype {elem.dtype}")
        shapes = {b.shape for b in batch}
        if len(shapes) > 1:
            raise ValueError(f"default_collate: arrays must have equal shapes, got {shapes}")
        return np.stack(batch)
    if isinstance(elem, (np.bool_, np.number)):
        return np.array(batch)
    if isinstance(elem, float):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, bool):
        return np.array(batch, dtype=np.bool_)
    if isinstance(elem, int):
        return np.array(batch, dtype=np.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        return type(elem)(collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch, strict=False)))
    if isinstance(elem, Sequence):
        lengths = {len(b) for b in batch}
        if len(lengths) > 1:
            raise ValueError(
                f"default_collate: each element in list of batch should be of equal size, "
                f"got lengths {sorted(lengths)}"
            )
        columns = [default_collate(samples) for samples in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return columns
        if isinstance(elem, MutableSequence):
            clone = copy.copy(elem)
            clone[:] = columns
            return clone
        return columns
    raise TypeError(
        f"default_collate: batch must contain arrays, numbers, dicts or lists; found {type(elem)}"
    )


# --- dataset helpers ---------------------------------------------------------------------


class TensorDataset:
    """Samples are the i-th rows of several arrays: ``ds[i] = (a[i], b[i], ...)``. All arrays
    must have the same first dimension."""

    def __init__(self, *tensors: np.ndarray) -> None:
        sizes = [len(t) for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order: ``sub[i] = ds[indices[i]]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset:
    """Datasets one after another. With cumulative sizes $c_k = \\sum_{j \\le k} |D_j|$,
    index $i$ is sample $i - c_{k-1}$ of the first $D_k$ with $c_k > i$; a negative index
    counts from the end, and one below $-\\sum |D_j|$ raises ``ValueError``."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        offset = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][idx - offset]


def split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """The sizes ``random_split`` uses. Integers must sum to ``n``. Fractions (summing to 1)
    give $\\lfloor n f_k \\rfloor$ each, and the $n - \\sum_k \\lfloor n f_k \\rfloor$ left over
    go one each to the splits in round-robin order from the first. Lengths summing to 1 are
    read as fractions even when they are integers: ``[1, 0]`` over 3 samples is ``[3, 0]``."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1: {f}")
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        return sizes
    if sum(lengths) != n:
        raise ValueError(
            f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input "
            f"dataset ({n})!"
        )
    return [int(length) for length in lengths]


def random_split(
    dataset: Any, lengths: Sequence[float], generator: torch.Generator | random.Generator
) -> list[Subset]:
    """Disjoint random subsets covering ``dataset``: one ``torch.randperm(n, generator)``,
    computed by ``reference.random`` from the generator's state, cut into consecutive pieces
    of [`split_lengths`][reference.data.split_lengths] sizes."""
    sizes = split_lengths(len(dataset), lengths)
    order = _drawn_by_reference(generator, lambda g: g.randperm(sum(sizes)).tolist())
    return [
        Subset(dataset, order[end - size : end])
        for size, end in zip(sizes, accumulate(sizes), strict=True)
    ]


# --- the notes' folder datasets ----------------------------------------------------------


def _load_rgb(path: str) -> Image.Image:
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class FolderDataset:
    """The notes' ants/bees dataset: every image file in ``root/label_dir/`` is a sample whose
    label is the folder name, ``(image, label_dir)``.

    File names are sorted (the notes' ``os.listdir`` order is arbitrary) and images are read
    as RGB, which is what torchvision's ``ImageFolder`` does per class folder.
    """

    def __init__(self, root: str, label_dir: str) -> None:
        self.root, self.label_dir = root, label_dir
        self.path = os.path.join(root, label_dir)
        self.img_names = sorted(os.listdir(self.path))

    def __getitem__(self, idx: int) -> tuple[Image.Image, str]:
        return _load_rgb(os.path.join(self.path, self.img_names[idx])), self.label_dir

    def __len__(self) -> int:
        return len(self.img_names)


class LabelFileDataset:
    """The notes' second layout: images in ``root/feature_dir/`` and, in the parallel
    ``root/label_dir/``, one text file per image holding its label.

    The i-th image pairs with the i-th label file, both in sorted order, and the label is the
    file's text with surrounding whitespace stripped. The label file must share the image's
    stem (``0013035.jpg`` with ``0013035.txt``); a mismatch raises ``ValueError`` rather than
    silently pairing the wrong files.
    """

    def __init__(self, root: str, feature_dir: str, label_dir: str) -> None:
        self.feature_path = os.path.join(root, feature_dir)
        self.label_path = os.path.join(root, label_dir)
        self.img_names = sorted(os.listdir(self.feature_path))
        self.label_names = sorted(os.listdir(self.label_path))
        stems = [[os.path.splitext(n)[0] for n in names]
                 for names in (self.img_names, self.label_names)]
        if stems[0] != stems[1]:
            raise ValueError(
                f"images and label files do not pair up: {len(self.img_names)} images, "
                f"{len(self.label_names)} label files, stems differ"
            )

    def __getitem__(self, idx: int) -> tuple[Image.Image, str]:
        image = _load_rgb(os.path.join(self.feature_path, self.img_names[idx]))
        with open(os.path.join(self.label_path, self.label_names[idx])) as f:
            return image, f.read().strip()

    def __len__(self) -> int:
        return len(self.img_names)


# --- readers of the real file formats ---------------------------------------------------

# idx type byte -> big-endian dtype (LeCun's MNIST format)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read an idx file (MNIST, FashionMNIST; gzipped or not) into a native-endian array.

    Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), a byte with the number of dims $d$, then $d$ big-endian
    uint32 sizes, then the data, big-endian, row-major. Images are ``(N, 28, 28)`` uint8,
    labels ``(N,)`` uint8.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an idx file (magic bytes {data[:4]!r})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    shape = tuple(np.frombuffer(data, dtype=">u4", count=ndim, offset=4).tolist())
    offset = 4 + 4 * ndim
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError(
            f"{path}: header says shape {shape} ({expected} bytes), file has "
            f"{len(data) - offset} bytes of data"
        )
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_cifar10_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a CIFAR-10 (or CIFAR-100) python batch: a pickled dict whose ``data`` is an
    ``(N, 3072)`` uint8 array (1024 red, then green, then blue values of each 32x32 image,
    row-major) and whose ``labels`` (``fine_labels`` for CIFAR-100) are ints.

    The pickle was written by Python 2, so it is read with ``encoding="latin1"``. Unpickling
    runs arbitrary code: read only files you trust.

    Returns:
        ``(images, labels)``: ``(N, 32, 32, 3)`` uint8 (HWC, as ``CIFAR10.data``) and
        ``(N,)`` int64.
    """
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    labels = entry["labels"] if "labels" in entry else entry["fine_labels"]
    images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images.transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)
