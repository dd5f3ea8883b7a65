"""DATA (datasets and loading): torch.utils.data and torchvision.datasets held to the
reference (reference/data.py)."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tempfile
import warnings
from collections import OrderedDict, namedtuple
from itertools import chain

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset

from reference.data import (
    ConcatDataset,
    FolderDataset,
    LabelFileDataset,
    ShardedRange,
    Subset,
    TensorDataset,
    batch_sizes,
    default_collate,
    num_batches,
    random_split,
    read_cifar10_batch,
    read_idx,
    shuffle_order,
    split_lengths,
    worker_shard,
)
from reference.random import Generator as ReferenceGenerator
from tests.strategies import shapes
from tests.support import (
    LazyModule,
    assert_both_raise,
    known_torch_bug,
    requires_torchvision,
    to_numpy,
)

# imported by the torchvision datasets' tests below, which skip without it
torchvision = LazyModule("torchvision")
TF = LazyModule("torchvision.transforms.functional")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _epoch(loader: DataLoader) -> list[int]:
    return list(chain.from_iterable(b.tolist() for b in loader))


# --- DATA-1: map-style and iterable-style datasets ---------------------------------------


class _Squares:
    """A map-style dataset that is not a torch class: ``__getitem__`` and ``__len__`` only."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self) -> int:
        return self.n


class _Stream(IterableDataset):
    """An iterable-style dataset: no indexing, only ``__iter__``; NOT sharded by worker."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


@pytest.mark.spec("DATA-1")
@given(st.integers(0, 20), st.integers(1, 6))
def test_map_style_loader_fetches_by_index_and_iterable_style_by_stream(n, b):
    map_batches = [t.tolist() for t in DataLoader(_Squares(n), batch_size=b)]
    assert map_batches == [[i * i for i in range(s, min(s + b, n))] for s in range(0, n, b)]
    stream_batches = [t.tolist() for t in DataLoader(_Stream(n), batch_size=b)]
    assert stream_batches == [list(range(s, min(s + b, n))) for s in range(0, n, b)]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(_Stream(n), shuffle=True)  # a stream has no indices to permute


# --- DATA-2: the loader's arithmetic -----------------------------------------------------


@pytest.mark.spec("DATA-2")
@given(st.integers(0, 40), st.integers(1, 9), st.booleans())
@example(10000, 64, False)  # notes: FashionMNIST test set, batch 64 -> 157 batches
@example(10000, 4, False)  # notes: CIFAR10 test set, batch 4 -> 2500 batches
def test_len_and_batch_sizes_follow_the_arithmetic(n, b, drop_last):
    loader = DataLoader(range(n), batch_size=b, drop_last=drop_last)
    assert len(loader) == num_batches(n, b, drop_last)
    expected = n // b if drop_last else -(-n // b)  # floor / ceil, written independently
    assert num_batches(n, b, drop_last) == expected
    sizes = batch_sizes(n, b, drop_last)
    assert len(sizes) == expected and all(0 < s <= b for s in sizes)
    assert sum(sizes) == (n - n % b if drop_last else n)
    if n <= 40:  # iterate only small loaders
        assert [len(batch) for batch in loader] == sizes


@pytest.mark.spec("DATA-2")
def test_golden_numbers_of_the_notes():
    assert (num_batches(10000, 64), batch_sizes(10000, 64)[-1]) == (157, 16)
    assert num_batches(10000, 4) == 2500
    assert (num_batches(10, 3, drop_last=True), batch_sizes(10, 3, drop_last=True)) == (3, [3] * 3)


@pytest.mark.spec("DATA-2")
@pytest.mark.parametrize("bad", [0, -1])
def test_batch_size_must_be_positive(bad):
    assert_both_raise(
        lambda: DataLoader(range(3), batch_size=bad),
        lambda: num_batches(3, bad),
        match="batch_size",
    )


# --- DATA-3..5: shuffling and seeding ----------------------------------------------------


@pytest.mark.spec("DATA-3")
@given(st.integers(0, 30), st.integers(1, 8), st.integers(0, 2**32))
def test_an_epoch_is_in_order_or_a_permutation(n, b, seed):
    assert _epoch(DataLoader(range(n), batch_size=b)) == list(range(n))
    if n == 0:  # nothing to permute: the RandomSampler refuses
        with pytest.raises(ValueError, match="num_samples"):
            DataLoader(range(n), batch_size=b, shuffle=True)
        return
    shuffled = DataLoader(range(n), batch_size=b, shuffle=True, generator=_seeded(seed))
    for _ in range(2):
        assert sorted(_epoch(shuffled)) == list(range(n))


@pytest.mark.spec("DATA-4")
def test_consecutive_epochs_differ():
    # Unseeded: each epoch draws a fresh sampler seed from the global RNG (seeded 0 by
    # conftest, so this is deterministic). For random permutations of 10 items, some two of
    # 20 epochs coincide with probability <= C(20, 2) / 10! ~ 5e-5.
    loader = DataLoader(range(10), batch_size=4, shuffle=True)
    epochs = [tuple(_epoch(loader)) for _ in range(20)]
    assert len(set(epochs)) == 20
    assert all(sorted(e) == list(range(10)) for e in epochs)


@pytest.mark.spec("DATA-5")
@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 2**32))
def test_a_seeded_generator_gives_the_reference_order_and_reproduces_it(n, b, seed):
    loader = DataLoader(range(n), batch_size=b, shuffle=True, generator=_seeded(seed))
    again = DataLoader(range(n), batch_size=b, shuffle=True, generator=_seeded(seed))
    ref_generator = _seeded(seed)
    own = ReferenceGenerator(seed)  # reference.random's generator, no torch at all
    for _ in range(3):  # epoch k of both loaders is the reference's k-th order
        expected = shuffle_order(n, ref_generator)
        assert _epoch(loader) == expected
        assert _epoch(again) == expected
        assert shuffle_order(n, own) == expected
    assert torch.equal(ref_generator.get_state(), loader.generator.get_state())


@pytest.mark.spec("DATA-5")
def test_the_epoch_draws_the_base_seed_before_the_permutation():
    # Not simply randperm on a freshly seeded generator: one int64 is drawn first.
    g = _seeded(0)
    naive = torch.randperm(50, generator=g).tolist()
    assert _epoch(DataLoader(range(50), batch_size=50, shuffle=True, generator=_seeded(0))) != naive


@pytest.mark.spec("DATA-5")
def test_leaving_an_epoch_early_shifts_the_next_epochs_order():
    full = DataLoader(range(12), batch_size=4, shuffle=True, generator=_seeded(3))
    cut = DataLoader(range(12), batch_size=4, shuffle=True, generator=_seeded(3))
    _epoch(full)
    for _ in cut:
        break  # the sampler never reaches its final randperm draw
    assert _epoch(cut) != _epoch(full)


# --- DATA-6, DATA-7: workers --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spec("DATA-6")
def test_two_workers_give_the_same_batches_in_the_same_order():
    data = [(np.full(2, i, dtype=np.float32), i) for i in range(11)]

    def batches(workers: int) -> list:
        loader = DataLoader(
            data, batch_size=3, shuffle=True, generator=_seeded(7), num_workers=workers
        )
        return [(x.tolist(), y.tolist()) for x, y in loader]

    single = batches(0)
    assert batches(2) == single
    assert [len(y) for _, y in single] == batch_sizes(11, 3)


@pytest.mark.slow
@pytest.mark.spec("DATA-7")
def test_iterable_dataset_duplicates_per_worker_unless_sharded():
    naive = _epoch(DataLoader(_Stream(6), batch_size=2, num_workers=2))
    assert sorted(naive) == sorted(list(range(6)) * 2)  # each worker replays the stream
    sharded = _epoch(DataLoader(ShardedRange(0, 6), batch_size=2, num_workers=2))
    assert sorted(sharded) == list(range(6))
    assert _epoch(DataLoader(ShardedRange(0, 6), batch_size=2)) == list(range(6))


@pytest.mark.spec("DATA-7")
@given(st.integers(-5, 5), st.integers(0, 30), st.integers(1, 6))
def test_worker_shards_partition_the_range(start, length, workers):
    shards = [worker_shard(start, start + length, w, workers) for w in range(workers)]
    assert list(chain.from_iterable(shards)) == list(range(start, start + length))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= -(-length // workers)  # chunks of ceil(len / workers)


# --- DATA-8, DATA-9: collation -------------------------------------------------------------

Point = namedtuple("Point", ["x", "y"])

def _numpy_bool_scalars_convert() -> bool:
    try:
        torch.as_tensor([np.True_])
    except TypeError:
        return False
    return True


NUMPY_BOOL_SCALARS_CONVERT = _numpy_bool_scalars_convert()


_ARRAY_DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]
# NumPy bool scalars only where this torch converts them (see the known deviation below)
_SCALAR_DTYPES = [np.float32, np.float16, np.int16, np.int64] + (
    [np.bool_] if NUMPY_BOOL_SCALARS_CONVERT else []
)


@st.composite
def _leaf_schema(draw):
    kind = draw(st.sampled_from(["int", "float", "bool", "str", "scalar", "array"]))
    if kind == "array":
        return ("array", draw(shapes(max_dims=3, max_side=3)), draw(st.sampled_from(_ARRAY_DTYPES)))
    if kind == "scalar":
        return ("scalar", draw(st.sampled_from(_SCALAR_DTYPES)))
    return (kind,)


def _containers(children):
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: ("list", c)),
        st.lists(children, min_size=1, max_size=3).map(lambda c: ("tuple", c)),
        st.tuples(children, children).map(lambda c: ("point", list(c))),
        st.dictionaries(st.sampled_from("abcd"), children, min_size=1, max_size=3).map(
            lambda c: ("dict", c)
        ),
    )


sample_schemas = st.recursive(_leaf_schema(), _containers, max_leaves=6)


def _draw_sample(draw, schema):
    kind = schema[0]
    if kind == "int":
        return draw(st.integers(-(2**62), 2**62))
    if kind == "float":
        return draw(st.floats(allow_nan=False))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "str":
        return draw(st.text(max_size=3))
    if kind == "scalar":
        return schema[1](draw(hnp.from_dtype(np.dtype(schema[1]), allow_nan=False)))
    if kind == "array":
        return draw(hnp.arrays(schema[2], schema[1], elements={"allow_nan": False}
                               if np.dtype(schema[2]).kind == "f" else None))
    parts = schema[1].values() if kind == "dict" else schema[1]
    children = [_draw_sample(draw, c) for c in parts]
    if kind == "list":
        return children
    if kind == "tuple":
        return tuple(children)
    if kind == "point":
        return Point(*children)
    return dict(zip(schema[1].keys(), children, strict=True))


@st.composite
def collate_batches(draw):
    schema = draw(sample_schemas)
    return [_draw_sample(draw, schema) for _ in range(draw(st.integers(1, 4)))]


def _assert_same_structure(actual, expected):
    """torch's collated batch equals the reference's: same containers, arrays for tensors."""
    if isinstance(actual, torch.Tensor):
        assert isinstance(expected, np.ndarray), type(expected)
        np.testing.assert_array_equal(to_numpy(actual), expected, strict=True)
        return
    assert type(actual) is type(expected), (type(actual), type(expected))
    if isinstance(actual, dict):
        assert list(actual) == list(expected)
        for key in actual:
            _assert_same_structure(actual[key], expected[key])
    elif isinstance(actual, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            _assert_same_structure(a, e)
    else:
        assert actual == expected


@pytest.mark.spec("DATA-8")
@known_torch_bug(
    fixed_in="2.11",
    issue="pytorch/pytorch#157973",
    why="with NumPy 2, torch.as_tensor([np.True_]) raises TypeError ('numpy.bool' object "
    "cannot be interpreted as an integer), so default_collate cannot batch NumPy bools",
    affected=not NUMPY_BOOL_SCALARS_CONVERT,
)
def test_default_collate_batches_numpy_bool_scalars():
    batch = [np.True_, np.False_]
    _assert_same_structure(torch.utils.data.default_collate(batch), default_collate(batch))


@pytest.mark.spec("DATA-8")
@given(collate_batches())
@example([(1, "a"), (2, "b")])  # tuple -> list; ints -> int64; strings stay a sequence
@example([{"x": np.zeros((2, 3), np.float32), "y": 1.5}] * 2)
@example([Point(np.int16(1), True), Point(np.int16(2), False)])
def test_default_collate_matches_torch_on_nested_structures(batch):
    torch_batch = torch.utils.data.default_collate(batch)
    _assert_same_structure(torch_batch, default_collate(batch))


@pytest.mark.spec("DATA-8")
def test_default_collate_keeps_the_mapping_type():
    batch = [OrderedDict(b=1, a=2.0), OrderedDict(b=3, a=4.0)]
    collated = default_collate(batch)
    assert type(collated) is OrderedDict and list(collated) == ["b", "a"]
    assert collated["b"].dtype == np.int64 and collated["a"].dtype == np.float64
    _assert_same_structure(torch.utils.data.default_collate(batch), collated)


@pytest.mark.spec("DATA-9")
@pytest.mark.parametrize(
    "batch, torch_error, reference_error, match",
    [
        ([[1, 2], [1]], RuntimeError, ValueError, "equal size"),
        ([np.zeros(2), np.zeros(3)], RuntimeError, ValueError, "equal shapes"),
        ([object(), object()], TypeError, TypeError, "found"),
        ([np.array(["a"]), np.array(["b"])], TypeError, TypeError, "dtype"),
    ],
)
def test_default_collate_rejects_ragged_and_unknown_samples(
    batch, torch_error, reference_error, match
):
    assert_both_raise(
        lambda: torch.utils.data.default_collate(batch),
        lambda: default_collate(batch),
        torch_error=torch_error,
        reference_error=reference_error,
        match=match,
    )


# --- DATA-10..12: dataset helpers ----------------------------------------------------------


@pytest.mark.spec("DATA-10")
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3), st.integers(0, 2**16))
def test_tensor_dataset_rows_and_size_check(first_dims, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((d, 2)) for d in first_dims]
    tensors = [torch.tensor(a) for a in arrays]
    if len(set(first_dims)) > 1:
        assert_both_raise(
            lambda: torch.utils.data.TensorDataset(*tensors),
            lambda: TensorDataset(*arrays),
            torch_error=AssertionError,
            match="Size mismatch",
        )
        return
    ours, theirs = TensorDataset(*arrays), torch.utils.data.TensorDataset(*tensors)
    assert len(ours) == len(theirs) == first_dims[0]
    for i in range(len(ours)):
        for t, a in zip(theirs[i], ours[i], strict=True):
            np.testing.assert_array_equal(to_numpy(t), a)


@st.composite
def split_cases(draw):
    n = draw(st.integers(0, 25))
    k = draw(st.integers(1, 4))
    if draw(st.booleans()):  # integer lengths summing to n
        cuts = sorted(draw(st.lists(st.integers(0, n), min_size=k - 1, max_size=k - 1)))
        lengths = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    else:  # fractions
        weights = draw(st.lists(st.integers(0, 5), min_size=k, max_size=k).filter(any))
        lengths = [w / sum(weights) for w in weights]
    return n, lengths, draw(st.integers(0, 2**32))


@pytest.mark.spec("DATA-11")
@given(split_cases())
@example((10, [0.3, 0.3, 0.4], 0))  # floors 3, 3, 4: nothing left over
@example((10, [0.25, 0.25, 0.5], 0))  # floors 2, 2, 5: one left over goes to the first
@example((3, [1, 0], 0))  # integer lengths summing to 1 are read as fractions: [3, 0]
def test_random_split_sizes_and_indices(case):
    n, lengths, seed = case
    data = range(n)
    try:
        sizes = split_lengths(n, lengths)
    except ValueError:
        assert_both_raise(
            lambda: torch.utils.data.random_split(data, lengths, _seeded(seed)),
            lambda: split_lengths(n, lengths),
        )
        return
    with warnings.catch_warnings():  # torch warns of empty splits from fractions
        warnings.simplefilter("ignore")
        theirs = torch.utils.data.random_split(data, lengths, _seeded(seed))
    ours = random_split(data, lengths, _seeded(seed))
    assert [len(s) for s in theirs] == sizes == [len(s) for s in ours]
    assert [s.indices for s in theirs] == [s.indices for s in ours]
    own = random_split(data, lengths, ReferenceGenerator(seed))  # reference.random alone
    assert [s.indices for s in own] == [s.indices for s in ours]
    assert sorted(chain.from_iterable(s.indices for s in theirs)) == list(range(n))
    if all(isinstance(x, float) for x in lengths):
        floors = [int(np.floor(n * f)) for f in lengths]
        assert all(s - f in (0, 1) for s, f in zip(sizes, floors, strict=True))


@pytest.mark.spec("DATA-11")
def test_random_split_lengths_must_add_up():
    assert_both_raise(
        lambda: torch.utils.data.random_split(range(5), [2, 2]),
        lambda: split_lengths(5, [2, 2]),
        match="Sum of input lengths",
    )


@pytest.mark.spec("DATA-12")
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=4),
    st.data(),
)
def test_subset_and_concat_dataset_index_like_torch(lengths, data):
    parts = [list(range(100 * k, 100 * k + m)) for k, m in enumerate(lengths)]
    flat = list(chain.from_iterable(parts))
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert len(ours) == len(theirs) == len(flat)
    for i in range(-len(flat), len(flat)):
        assert ours[i] == theirs[i] == flat[i]
    too_negative = -len(flat) - 1
    assert_both_raise(
        lambda: theirs[too_negative], lambda: ours[too_negative], match="exceed"
    )
    indices = data.draw(st.lists(st.integers(0, max(len(flat) - 1, 0)), max_size=5)) if flat else []
    sub, torch_sub = Subset(ours, indices), torch.utils.data.Subset(theirs, indices)
    assert len(sub) == len(torch_sub) == len(indices)
    assert [sub[j] for j in range(len(sub))] == [torch_sub[j] for j in range(len(sub))] == [
        flat[i] for i in indices
    ]


# --- DATA-13: the notes' folder datasets vs ImageFolder -----------------------------------


def _save_image(path: str, array: np.ndarray, mode: str) -> None:
    Image.fromarray(array).convert(mode).save(path)


@st.composite
def image_folders(draw):
    """{class: {file name: (HWC uint8 pixels, PIL mode to save in)}}; pixels from a seed."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    classes = draw(st.sets(st.sampled_from(["ants", "bees", "wasps"]), min_size=1, max_size=2))
    layout = {}
    for cls in classes:
        names = draw(st.sets(st.text("abc0123", min_size=1, max_size=4), min_size=1, max_size=2))
        layout[cls] = {
            f"{name}.png": (
                rng.integers(0, 256, (draw(st.integers(1, 4)), draw(st.integers(1, 4)), 3),
                             dtype=np.uint8),
                draw(st.sampled_from(["RGB", "L", "RGBA"])),
            )
            for name in names
        }
    return layout


def _write_folders(root: str, layout: dict) -> None:
    for cls, files in layout.items():
        os.makedirs(os.path.join(root, cls))
        for name, (array, mode) in files.items():
            _save_image(os.path.join(root, cls, name), array, mode)


@requires_torchvision
@pytest.mark.spec("DATA-13")
@given(image_folders())
def test_folder_datasets_agree_with_image_folder(layout):
    with tempfile.TemporaryDirectory() as root:
        _write_folders(root, layout)
        folder = torchvision.datasets.ImageFolder(root)
        ours = ConcatDataset([FolderDataset(root, cls) for cls in sorted(layout)])
        assert folder.classes == sorted(layout)
        assert len(folder) == len(ours)
        for i in range(len(ours)):
            (image, target), (ref_image, label) = folder[i], ours[i]
            assert folder.classes[target] == label
            assert image.mode == ref_image.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(image), np.asarray(ref_image))


@pytest.mark.spec("DATA-13")
def test_label_file_dataset_pairs_images_with_their_label_files(tmp_path):
    # The notes' second layout: dataset2/train/ants_image + ants_label with one .txt each.
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "ants_image", tmp_path / "ants_label"
    images.mkdir()
    labels.mkdir()
    arrays = {}
    for stem in ["0013035", "5650366", "1099452"]:
        arrays[stem] = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        _save_image(str(images / f"{stem}.png"), arrays[stem], "RGB")
        (labels / f"{stem}.txt").write_text("ants\n")
    dataset = LabelFileDataset(str(tmp_path), "ants_image", "ants_label")
    assert len(dataset) == 3
    for i, stem in enumerate(sorted(arrays)):
        image, label = dataset[i]
        assert label == "ants"
        np.testing.assert_array_equal(np.asarray(image), arrays[stem])
    (labels / "9999999.txt").write_text("ants")  # a label file without its image
    with pytest.raises(ValueError, match="pair"):
        LabelFileDataset(str(tmp_path), "ants_image", "ants_label")


# --- DATA-14, DATA-15: the real dataset files ---------------------------------------------

_IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


def _write_idx(path: str, array: np.ndarray) -> None:
    """LeCun's idx format, written byte by byte: 0, 0, type, ndim, big-endian sizes, data."""
    header = struct.pack(">BBBB", 0, 0, _IDX_CODES[array.dtype.type], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


@requires_torchvision
@pytest.mark.spec("DATA-14")
@given(
    st.sampled_from(list(_IDX_CODES)).flatmap(
        # torchvision's reader fails on a file with no elements (torch.frombuffer refuses an
        # empty buffer), so every side is at least 1 here
        lambda dt: hnp.arrays(dt, shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                              elements={"allow_nan": False} if np.dtype(dt).kind == "f" else None)
    )
)
def test_read_idx_matches_torchvision_reader(array):
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "x-idx")
        _write_idx(path, array)
        ours = read_idx(path)
        theirs = torchvision.datasets.mnist.read_sn3_pascalvincent_tensor(path)
    assert ours.dtype == array.dtype and ours.dtype.isnative
    np.testing.assert_array_equal(ours, array, strict=True)
    np.testing.assert_array_equal(to_numpy(theirs), ours, strict=True)


@pytest.mark.spec("DATA-14")
def test_read_idx_reads_empty_and_gzipped_files(tmp_path):
    empty = np.zeros((0, 28, 28), np.uint8)
    _write_idx(str(tmp_path / "empty"), empty)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "empty")), empty, strict=True)
    labels = np.array([7, 2, 1], np.uint8)
    _write_idx(str(tmp_path / "labels"), labels)
    (tmp_path / "labels.gz").write_bytes(gzip.compress((tmp_path / "labels").read_bytes()))
    np.testing.assert_array_equal(read_idx(str(tmp_path / "labels.gz")), labels, strict=True)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")  # 5 said, 3 there
    with pytest.raises(ValueError, match="5 bytes"):
        read_idx(str(tmp_path / "bad"))


def _write_mnist_raw(root: str, name: str, splits: dict) -> None:
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw)
    for split, (images, labels) in splits.items():
        _write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"), images)
        _write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"), labels)


@st.composite
def mnist_splits(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))

    def split():
        n = draw(st.integers(1, 3))  # torchvision cannot read an empty idx file
        return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, n, dtype=np.uint8))

    return {"train": split(), "t10k": split()}


@requires_torchvision
@pytest.mark.spec("DATA-14")
@given(st.sampled_from(["MNIST", "FashionMNIST"]),
       mnist_splits(), st.booleans())
def test_mnist_files_read_by_torchvision_and_reference(dataset_class, splits, train):
    with tempfile.TemporaryDirectory() as root:
        _write_mnist_raw(root, dataset_class, splits)
        dataset = getattr(torchvision.datasets, dataset_class)(root, train=train, download=False)
        split = "train" if train else "t10k"
        raw = os.path.join(root, dataset_class, "raw")
        images = read_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"))
        labels = read_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"))
    np.testing.assert_array_equal(to_numpy(dataset.data), images, strict=True)
    assert dataset.targets.dtype == torch.int64
    np.testing.assert_array_equal(to_numpy(dataset.targets), labels.astype(np.int64))
    for i in range(len(dataset)):
        image, target = dataset[i]
        assert image.mode == "L" and image.size == (28, 28) and target == labels[i]
        np.testing.assert_array_equal(np.asarray(image), images[i])


@requires_torchvision
@pytest.mark.spec("DATA-14")
def test_mnist_needs_all_four_raw_files(tmp_path):
    splits = {"train": (np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8))}
    _write_mnist_raw(str(tmp_path), "MNIST", splits)  # no t10k files
    with pytest.raises(RuntimeError, match="Dataset not found"):
        torchvision.datasets.MNIST(str(tmp_path), train=True, download=False)


@requires_torchvision
@pytest.mark.spec("DATA-2", "DATA-14")
def test_notes_fashion_mnist_first_batch_shapes(tmp_path):
    # notes 000: DataLoader(test_data, batch_size=64); X is [64, 1, 28, 28], y is [64] int64.
    rng = np.random.default_rng(0)
    split = (rng.integers(0, 256, (70, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, 70, dtype=np.uint8))
    _write_mnist_raw(str(tmp_path), "FashionMNIST", {"train": split, "t10k": split})
    test_data = torchvision.datasets.FashionMNIST(
        str(tmp_path), train=False, download=False, transform=torchvision.transforms.ToTensor()
    )
    loader = DataLoader(test_data, batch_size=64)
    X, y = next(iter(loader))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert [len(b) for b, _ in loader] == batch_sizes(70, 64) == [64, 6]


_CIFAR_FILES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]


def _write_cifar10(root: str, rng: np.random.Generator, per_batch: int = 2) -> dict:
    """The python version's layout: cifar-10-batches-py/ with 5 data batches, a test batch
    and batches.meta, each a pickled dict (protocol 2, as the Python 2 originals)."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    written = {}
    for name in _CIFAR_FILES:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        entry = {"batch_label": name, "labels": labels, "data": data,
                 "filenames": [f"img_{i}.png" for i in range(per_batch)]}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(entry, f, protocol=2)
        written[name] = (data, labels)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return written


def _md5(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.md5(f.read(), usedforsecurity=False).hexdigest()


@requires_torchvision
@pytest.mark.spec("DATA-15")
@pytest.mark.parametrize("train", [True, False])
def test_cifar10_files_read_by_torchvision_and_reference(tmp_path, train):
    written = _write_cifar10(str(tmp_path), np.random.default_rng(1))
    with pytest.raises(RuntimeError, match="corrupted"):  # our files fail the md5 check
        torchvision.datasets.CIFAR10(str(tmp_path), train=train, download=False)

    folder = tmp_path / "cifar-10-batches-py"

    class GeneratedCIFAR10(torchvision.datasets.CIFAR10):  # the same reader, our checksums
        train_list = [[name, _md5(str(folder / name))] for name in _CIFAR_FILES[:5]]
        test_list = [["test_batch", _md5(str(folder / "test_batch"))]]
        meta = {"filename": "batches.meta", "key": "label_names",
                "md5": _md5(str(folder / "batches.meta"))}

    dataset = GeneratedCIFAR10(str(tmp_path), train=train, download=False)
    names = _CIFAR_FILES[:5] if train else ["test_batch"]
    batches = [read_cifar10_batch(str(folder / name)) for name in names]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.shape == (2 * len(names), 32, 32, 3) and labels.dtype == np.int64
    np.testing.assert_array_equal(dataset.data, images, strict=True)
    assert dataset.targets == labels.tolist()
    assert dataset.classes[0] == "airplane" and dataset.class_to_idx["truck"] == 9
    # the rows are channel planes: red plane of image 0 is its first 1024 bytes
    data0, _ = written[names[0]]
    np.testing.assert_array_equal(images[0, :, :, 0].ravel(), data0[0, :1024])
    image, target = dataset[0]
    assert image.mode == "RGB" and image.size == (32, 32) and target == labels[0]
    np.testing.assert_array_equal(np.asarray(image), images[0])


# --- DATA-23: FakeData -------------------------------------------------------------------


@requires_torchvision
@pytest.mark.spec("DATA-23")
@given(
    st.integers(1, 3),
    st.tuples(st.sampled_from([1, 3]), st.integers(1, 5), st.integers(1, 5)),
    st.integers(1, 10),
    st.integers(0, 100),
)
def test_fake_data_shapes_and_determinism(size, image_size, num_classes, offset):
    dataset = torchvision.datasets.FakeData(
        size=size, image_size=image_size, num_classes=num_classes, random_offset=offset
    )
    assert len(dataset) == size
    c, h, w = image_size
    first_image, first_target = dataset[0]
    for i in range(size):
        image, target = dataset[i]
        assert image.mode == ("L" if c == 1 else "RGB") and image.size == (w, h)
        assert isinstance(target, int) and 0 <= target < num_classes
        assert TF.to_tensor(image).shape == image_size
    again, target_again = dataset[0]  # seeded by index: the same sample every time
    assert target_again == first_target
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first_image))
    with pytest.raises(IndexError):
        dataset[size]
