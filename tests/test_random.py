"""RNG: torch's CPU random number generator, held bit for bit to the reference
(reference/random.py).

Bit-exact comparisons are CPU-only by nature (CUDA's generator is Philox, not the Mersenne
Twister), so they take no device fixture; the support properties (`rand` in [0, 1), `randint`
below `high`, `randperm` a permutation) and reproducibility run on every device.

Three rules differ between torch builds: `randint`'s 64-bit threshold, the float16 `rand`
rule and the `bernoulli_(p)` kernel. Which one this torch follows is read off its behaviour
once (the words one call consumes; for float16, whether one known word follows the legacy
rule), and the properties then hold every draw to that rule. The normal kernel follows
`torch.backends.cpu.get_cpu_capability()`.
"""

from __future__ import annotations

import functools
import platform
import re
import warnings
from fractions import Fraction
from itertools import accumulate

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from reference.random import (
    AVX2_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    DEFAULT_SEED,
    RANDPERM_SMALL_N,
    STATE_DTYPE,
    STATE_SIZE,
    Generator,
    _forward_shuffle,
    dataloader_epoch_orders,
    fma,
)
from tests.strategies import shapes
from tests.support import CPU_CAPABILITY, RELEASE, assert_both_raise, to_numpy, torch_at_least

SEEDS = st.integers(0, 2**64 - 1)
SIGNED_SEEDS = st.integers(-(2**63), 2**64 - 1)
TORCH_DTYPES = {
    name: getattr(torch, name)
    for name in ("float16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8")
} | {"bool": torch.bool}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _record(state: torch.Tensor | np.ndarray) -> np.void:
    return np.frombuffer(np.asarray(state).tobytes(), STATE_DTYPE)[0]


def _words_consumed(call) -> int:
    """How many 32-bit words `call(generator)` draws from a freshly seeded generator."""
    g = _generator(0)
    call(g)
    return int(_record(g.get_state())["next"])


def assert_same_state(torch_state: torch.Tensor, reference: Generator) -> None:
    np.testing.assert_array_equal(to_numpy(torch_state), reference.get_state())


def assert_bit_equal(tensor: torch.Tensor, expected: np.ndarray) -> None:
    actual = to_numpy(tensor)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(
        actual.reshape(-1).view(np.uint8), expected.reshape(-1).view(np.uint8)
    )


# --- what this build does where builds differ (read off torch's behaviour) -----------------


@functools.cache
def randint_legacy() -> bool:
    """Whether randint follows torch 2.4's rule (64-bit words for int64 from a range of 2**32)
    rather than 2.11's (from 2**28, any dtype): asked by the words one draw consumes."""
    return _words_consumed(lambda g: torch.randint(0, 2**28, (1,), generator=g)) == 1


@functools.cache
def half_bits() -> int:
    """float16 rand: 11 bits where torch follows the legacy rule (torch 2.4, 2.11), else 24
    (torch >= 2.13). Seed 0's word 337 has low 24 bits above 2**24 - 2**12, where the rules
    differ; only the legacy rule is asked, so a wrong 24-bit reference still fails."""
    value = torch.rand(338, dtype=torch.float16, generator=_generator(0))[337].item()
    legacy = (int(Generator(0).random(338)[337]) & 0x7FF) / 2**11
    return 11 if value == legacy else 24


@functools.cache
def bernoulli_uses_mkl() -> bool:
    """bernoulli_(p) draws one seed word for MKL, or one double (two words) per element."""
    return _words_consumed(lambda g: torch.empty(4).bernoulli_(0.5, generator=g)) == 1


X86 = platform.machine().lower() in ("x86_64", "amd64")
MODELLED_NORMAL_KERNEL = X86 and CPU_CAPABILITY in (*AVX2_CAPABILITIES, *DEFAULT_CAPABILITIES)
requires_modelled_normal_kernel = pytest.mark.skipif(
    not MODELLED_NORMAL_KERNEL,
    reason=f"{RELEASE} on {platform.machine()} runs its {CPU_CAPABILITY!r} normal kernel; the "
    "reference models torch's x86-64 kernels (AVX2, AVX512, DEFAULT)",
)
# On the DEFAULT kernel, releases before 2.13 round z * std and + mean separately in blocks of
# 16 (2.13 and later fuse them, as every AVX2 build does); the reference follows 2.13.
FUSED_BLOCKS = CPU_CAPABILITY in AVX2_CAPABILITIES or torch_at_least("2.13")


# --- RNG-1, RNG-12, RNG-13: the engine, its seed and its state ------------------------------


@pytest.mark.spec("RNG-1", "RNG-12", "RNG-13")
@given(SIGNED_SEEDS, st.integers(0, 1300))
@example(-1, 3)  # read as 2**64 - 1
@example(2**32 + 7, 5)  # the same stream as seed 7
@example(0, 1248)  # two twists
def test_manual_seed_starts_the_twister_from_the_seed_mod_2_32(seed, count):
    torch.manual_seed(seed)
    reference = Generator(seed)
    assert torch.initial_seed() == reference.initial_seed() == seed % 2**64
    assert_same_state(torch.get_rng_state(), reference)
    words = reference.random(count)
    numpy_words = np.random.RandomState(seed % 2**32).randint(0, 2**32, count, dtype=np.uint32)
    np.testing.assert_array_equal(words, numpy_words)  # NumPy's legacy-seeded MT19937
    # an explicit generator: its own stream, the global one's numbers from the same seed
    before = torch.get_rng_state()
    g = _generator(seed)
    own = torch.empty(count, dtype=torch.int32).random_(generator=g)
    assert torch.equal(torch.get_rng_state(), before)
    # int32 random_() is the word mod 2**31: the low 31 bits of each word, in order
    np.testing.assert_array_equal(to_numpy(own), words % 2**31)
    assert torch.equal(torch.empty(count, dtype=torch.int32).random_(), own)
    assert_same_state(torch.get_rng_state(), reference)
    unsigned = seed % 2**64
    if unsigned + 2**32 < 2**64:  # only the recorded seed (the first 8 bytes) differs
        shifted = _generator(unsigned + 2**32).get_state()
        assert torch.equal(shifted[8:], _generator(unsigned).get_state()[8:])


@pytest.mark.spec("RNG-13")
def test_a_fresh_generator_has_the_default_seed():
    assert torch.Generator().initial_seed() == Generator().initial_seed() == DEFAULT_SEED
    assert_same_state(torch.Generator().get_state(), Generator())


# --- RNG-2, RNG-4, RNG-6, RNG-8 to RNG-12, RNG-14, RNG-15: every sampler, bit for bit -------


@st.composite
def randint_cases(draw):
    dtype = draw(st.sampled_from(["int64", "int64", "int32", "int16", "int8", "uint8"]))
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -(2**62)), min(int(info.max) + 1, 2**62)
    near = [2**28 - 1, 2**28, 2**31, 2**32 - 1, 2**32, 2**32 + 1]
    span = draw(
        st.one_of(st.integers(1, 300), st.sampled_from(near), st.integers(1, hi - lo)).filter(
            lambda s: s <= hi - lo
        )
    )
    low = draw(st.integers(lo, hi - span))
    return low, low + span, dtype


normal_parameters = st.one_of(
    st.just((0.0, 1.0)),
    st.tuples(
        st.floats(-100, 100, allow_subnormal=False), st.floats(0, 100, allow_subnormal=False)
    ),
)
small_shapes = shapes(max_dims=3)
SAMPLERS = {
    "rand": st.tuples(small_shapes, st.sampled_from(["float32", "float64", "float16"])),
    "randint": st.tuples(shapes(max_dims=2), randint_cases()),
    "randperm": st.tuples(st.integers(0, 200), st.sampled_from(["int64", "int32", "float32"])),
    "random_": st.tuples(shapes(max_dims=2), st.sampled_from(sorted(TORCH_DTYPES))),
    "normal": st.tuples(
        st.one_of(small_shapes, st.integers(0, 40).map(lambda n: (n,))),
        st.sampled_from(["float32", "float64"]),
        normal_parameters,
    ),
    "bernoulli": st.tuples(shapes(max_dims=2), st.sampled_from(["float32", "float64"])),
    "bernoulli_": st.tuples(
        shapes(max_dims=2), st.floats(0, 1), st.sampled_from(["float32", "int64", "bool"])
    ),
}


@st.composite
def every_sampler(draw):
    """Each sampler once (normal twice, for its cache) with random arguments, in random order."""
    order = draw(st.permutations([*SAMPLERS, "normal"]))
    return [(op, *draw(SAMPLERS[op])) for op in order]


def _draw(step: tuple, g: torch.Generator, reference: Generator) -> tuple:
    """One sampler call on torch (with generator g) and on the reference."""
    op, size, *args = step
    if op == "rand":
        (dtype,) = args
        return (
            torch.rand(size, dtype=TORCH_DTYPES[dtype], generator=g),
            reference.rand(size, dtype, half_bits=half_bits()),
        )
    if op == "randint":
        low, high, dtype = args[0]
        return (
            torch.randint(low, high, size, dtype=TORCH_DTYPES[dtype], generator=g),
            reference.randint(low, high, size, dtype, legacy=randint_legacy()),
        )
    if op == "randperm":
        (dtype,) = args
        return (
            torch.randperm(size, dtype=TORCH_DTYPES[dtype], generator=g),
            reference.randperm(size, dtype),
        )
    if op == "random_":
        (dtype,) = args
        return (
            torch.empty(size, dtype=TORCH_DTYPES[dtype]).random_(generator=g),
            reference.random_(size, dtype),
        )
    if op == "normal":
        dtype, (mean, std) = args
        if not FUSED_BLOCKS and int(np.prod(size)) >= 16:
            mean, std = 0.0, 1.0  # see FUSED_BLOCKS
        capability = CPU_CAPABILITY if MODELLED_NORMAL_KERNEL else "AVX2"
        return (
            torch.normal(mean, std, size, dtype=TORCH_DTYPES[dtype], generator=g),
            reference.normal(mean, std, size, dtype, cpu_capability=capability),
        )
    if op == "bernoulli":
        (dtype,) = args
        p = np.linspace(0, 1, int(np.prod(size)), dtype=dtype).reshape(size)
        upcoming = Generator().set_state(reference.get_state()).rand(size, dtype)
        p.reshape(-1)[::2] = upcoming.reshape(-1)[::2]  # u == p gives 0: the test is u < p
        return torch.bernoulli(torch.from_numpy(p), generator=g), reference.bernoulli(p)
    p, dtype = args
    return (
        torch.empty(size, dtype=TORCH_DTYPES[dtype]).bernoulli_(p, generator=g),
        reference.bernoulli_(size, p, dtype, mkl=bernoulli_uses_mkl()),
    )


@pytest.mark.spec(
    "RNG-2", "RNG-4", "RNG-6", "RNG-8", "RNG-9", "RNG-10", "RNG-11", "RNG-12", "RNG-14", "RNG-15"
)
@given(SEEDS, every_sampler())
@example(0, [("rand", (338,), "float16")])  # word 337 rounds to 1.0 in half
@example(0, [("randint", (3,), (0, 2**28, "int64")), ("randint", (3,), (0, 2**32, "int64"))])
@example(0, [("randperm", 0, "int64"), ("randperm", 1, "int64"), ("randperm", 2, "int64")])
@example(0, [("normal", (16,), "float32", (0.0, 1.0)), ("normal", (17,), "float32", (0.0, 1.0))])
@example(0, [("normal", (3,), "float64", (0.0, 1.0)), ("normal", (20,), "float32", (0.0, 1.0)),
             ("normal", (1,), "float32", (0.3, 2.7))])  # a sine cached, kept, then used
@example(0, [("bernoulli_", (0,), 0.5, "float32"), ("bernoulli_", (900,), 0.3, "float32")])
@example(0, [("bernoulli", (2, 3), "float64"), ("random_", (4,), "bool")])
@example(0, [("random_", (3,), "int64"), ("random_", (3,), "float64")])
@example(0, [("randint", (2,), (-(2**31), 2**31, "int32"))])  # 2.4: 32-bit words for int32
@example(0, [("normal", (3,), "float32", (-0.0, 0.0))])  # z * 0 + -0 is -0 for z < 0 (soak)
def test_every_sampler_is_bit_exact_and_advances_the_state_alike(seed, steps):
    g, reference = _generator(seed), Generator(seed)
    for step in steps:
        drawn, expected = _draw(step, g, reference)
        if step[0] != "normal" or MODELLED_NORMAL_KERNEL:
            assert_bit_equal(drawn, expected)
        assert_same_state(g.get_state(), reference)  # the same words, the same cached sine
    state = g.get_state()
    record = _record(state)
    assert state.numel() == STATE_SIZE and record["seeded"] == 1
    assert record["normal_x"] == record["normal_rho"] == 0
    # torch's state restores the reference, and the reference's restores torch
    replay = Generator().set_state(to_numpy(state))
    assert_bit_equal(torch.randn(5, dtype=torch.float64, generator=g), replay.randn(5, "float64"))
    g.set_state(torch.from_numpy(replay.get_state()))
    assert_bit_equal(torch.rand(7, generator=g), replay.rand(7))


@pytest.mark.spec("RNG-2")
def test_rand_takes_the_low_bits_of_each_word():
    words = Generator(1).random(3).astype(np.int64)
    assert torch.rand(3, generator=_generator(1)).tolist() == [
        (w & 0xFFFFFF) / 2**24 for w in words
    ]
    pairs = Generator(1).random(6).astype(object)
    expected = [
        ((hi << 32 | lo) & (2**53 - 1)) / 2**53
        for hi, lo in zip(pairs[::2], pairs[1::2], strict=True)
    ]
    assert torch.rand(3, dtype=torch.float64, generator=_generator(1)).tolist() == expected


@pytest.mark.spec("RNG-4")
def test_randint_with_only_high_starts_at_zero():
    # the notes: torch.randint(len(training_data), size=(1,))
    drawn = torch.randint(60000, size=(1,), generator=_generator(3))
    assert drawn.dtype == torch.int64
    assert drawn.tolist() == Generator(3).randint(60000, (1,)).tolist()
    assert drawn.item() == int(Generator(3).random(1)[0]) % 60000


@pytest.mark.spec("RNG-6")
def test_randperm_takes_one_word_per_swap_and_the_closed_form_is_the_swap_loop():
    g = _generator(9)
    drawn = torch.randperm(50, generator=g).tolist()
    assert int(_record(g.get_state())["next"]) == 49
    words = Generator(9).random(49).astype(np.int64)
    swapped = list(range(50))
    for i in range(49):
        j = i + int(words[i]) % (50 - i)
        swapped[i], swapped[j] = swapped[j], swapped[i]
    assert drawn == swapped
    for n, seed in ((1, 0), (2, 1), (7, 2), (60, 3)):  # the vectorized closed form
        steps = np.arange(n - 1)
        targets = steps + Generator(seed).random(n - 1).astype(np.int64) % (n - steps)
        loop = list(range(n))
        for i, j in enumerate(targets):
            loop[i], loop[j] = loop[j], loop[i]
        assert _forward_shuffle(targets).tolist() == loop


@pytest.mark.spec("RNG-6", "RNG-19")
def test_randperm_beyond_the_32_bit_shuffle_is_not_modelled():
    assert RANDPERM_SMALL_N == 214748364
    with pytest.raises(ValueError, match="64-bit"):
        Generator(0).randperm(RANDPERM_SMALL_N)


@pytest.mark.spec("RNG-11")
def test_manual_seed_clears_the_cached_sine():
    torch.manual_seed(7)
    torch.randn(3, dtype=torch.float64)  # leaves a sine in the cache
    assert _record(torch.get_rng_state())["normal_is_valid"] == 1
    torch.manual_seed(7)
    assert_same_state(torch.get_rng_state(), Generator(7))
    g = _generator(7)
    torch.randn(1, generator=g)
    cached = _record(g.get_state())["normal_y"]
    assert torch.randn(1, dtype=torch.float64, generator=g).item() == cached


@requires_modelled_normal_kernel
@pytest.mark.spec("RNG-9", "RNG-10")
def test_a_block_of_16_pairs_element_j_with_element_j_plus_8():
    u = Generator(4).rand(16)
    z = torch.randn(16, generator=_generator(4)).double().numpy()
    radius = np.sqrt(-2 * np.log(1 - u[:8].astype(np.float64)))
    theta = 2 * np.pi * u[8:].astype(np.float64)
    np.testing.assert_allclose(z[:8], radius * np.cos(theta), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[8:], radius * np.sin(theta), rtol=1e-5, atol=1e-6)
    # under 16: pairs of doubles, r from the second uniform, the angle from the first
    u1, u2 = Generator(4).rand(2, "float64")
    cosine = torch.randn(1, dtype=torch.float64, generator=_generator(4)).item()
    assert cosine == pytest.approx(np.sqrt(-2 * np.log1p(-u2)) * np.cos(2 * np.pi * u1))


@requires_modelled_normal_kernel
@pytest.mark.spec("RNG-10")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_randn_of_many_blocks_is_bit_exact(dtype):
    # Seeds 0, 1 and 4 each hold, in their first 1024 float32 normals, an element that comes
    # out different if one of the observable fused multiply-adds of torch's AVX2 log or
    # sincos is rounded twice instead (the log's polynomial, its e * q1 step, the sine
    # polynomial, the cosine's z * z / 2 step, the sine's final y * x + x).
    cases = ((0, 1024, 0.0, 1.0), (1, 1029, 0.0, 1.0), (4, 1024, 0.0, 1.0), (1, 1024, -2.5, 0.75))
    for seed, size, mean, std in cases:
        if not FUSED_BLOCKS and (mean, std) != (0.0, 1.0):
            continue  # rounded twice there (see FUSED_BLOCKS)
        g, reference = _generator(seed), Generator(seed)
        drawn = torch.normal(mean, std, (size,), dtype=TORCH_DTYPES[dtype], generator=g)
        expected = reference.normal(mean, std, (size,), dtype, cpu_capability=CPU_CAPABILITY)
        assert_bit_equal(drawn, expected)


@pytest.mark.spec("RNG-10")
@given(st.sampled_from(["float32", "float64"]), st.data())
def test_fma_rounds_once(dtype, data):
    """The reference's fused multiply-add is the exact a * b + c rounded once."""
    bound, width = (2.0**50, 32) if dtype == "float32" else (1e100, 64)
    a, b, c = data.draw(st.tuples(*[st.floats(-bound, bound, width=width)] * 3))
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    kind = np.dtype(dtype).type
    fused = fma(np.array([a], dtype), np.array([b], dtype), np.array([c], dtype), dtype)[0]
    assert fused == _nearest(exact, kind)


@pytest.mark.spec("RNG-10")
@pytest.mark.parametrize(("a", "b", "c"), [
    (0.5, 4.406094945498818e-308, 4.406094945498818e-308),  # soak seed 1087536437
    (1e-160, 3e-160, -2e-320),  # the product subnormal, its error lost in float64
    (-5e-324, 0.5, 0.0),  # half the smallest subnormal: a tie, to -0
    (3e-200, -7e-150, 1e-300),
])
def test_fma_rounds_once_where_the_product_underflows(a, b, c):
    """Below 2^-969 the error of a b is not a float64 (Dekker's split fails there)."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    fused = fma(np.array([a]), np.array([b]), np.array([c]))[0]
    assert fused == _nearest(exact, np.float64)
    assert np.signbit(fused) == (exact < 0)  # a result that rounds to 0 keeps its sign


def _nearest(value: Fraction, kind: type) -> np.floating:
    """The float of type `kind` nearest the rational `value`, ties to even."""
    guess = kind(float(value))
    candidates = [guess, np.nextafter(guess, kind(np.inf)), np.nextafter(guess, kind(-np.inf))]
    bits = np.int32 if kind is np.float32 else np.int64
    return min(
        candidates,
        key=lambda f: (abs(Fraction(float(f)) - value), int(np.array(f).view(bits)) % 2),
    )


@pytest.mark.spec("RNG-15")
def test_which_bernoulli_kernel_this_build_runs():
    if not torch.backends.mkl.is_available():
        expected = False
    elif torch_at_least("2.11"):
        expected = "GenuineIntel" in _cpuinfo()  # torch checks the CPU vendor
    elif not torch_at_least("2.5"):
        expected = True  # torch 2.4: MKL on every CPU
    else:
        pytest.skip(f"{RELEASE}: the bernoulli_ kernel of releases 2.5 to 2.10 is not checked")
    assert bernoulli_uses_mkl() == expected


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return f.read(4096)
    except OSError:
        return ""


# --- RNG-3, RNG-5, RNG-7, RNG-18: supports and reproducibility, on every device --------------


@pytest.mark.spec("RNG-3", "RNG-5", "RNG-7", "RNG-18")
@given(SEEDS, st.sampled_from(["float16", "float32", "float64"]), randint_cases(),
       st.integers(0, 300))
@example(0, "float16", (7, 8, "int64"), 0)  # a range of one value, an empty permutation
def test_samples_lie_in_their_support_and_replay(device, seed, dtype, bounds, n):
    low, high, int_dtype = bounds

    def draws():
        torch.manual_seed(seed)
        return [
            torch.rand(8192, dtype=TORCH_DTYPES[dtype], device=device),
            torch.randint(low, high, (256,), dtype=TORCH_DTYPES[int_dtype], device=device),
            torch.randperm(n, device=device),
            torch.randn(20, device=device),
        ]

    first, second = draws(), draws()
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)  # the same seed, the same numbers
    uniform, integers, permutation, _ = (to_numpy(t) for t in first)
    reference = Generator(seed)
    ref_uniform = reference.rand(8192, dtype, half_bits=half_bits())
    ref_integers = reference.randint(low, high, (256,), int_dtype, legacy=randint_legacy())
    for values in (uniform, ref_uniform):
        assert values.dtype == np.dtype(dtype) and ((values >= 0) & (values < 1)).all()
    for values in (integers, ref_integers):
        assert values.dtype == np.dtype(int_dtype)
        assert all(low <= v < high for v in values.astype(object))
    assert permutation.dtype == np.int64
    assert sorted(permutation.tolist()) == sorted(reference.randperm(n).tolist()) == list(range(n))


# --- RNG-16, RNG-17: the DataLoader's shuffle and random_split ------------------------------


@pytest.mark.spec("RNG-16", "RNG-17")
@given(SIGNED_SEEDS, st.integers(1, 20), st.integers(1, 8), st.integers(1, 2),
       st.lists(st.integers(0, 6), min_size=1, max_size=3))
@example(0, 10, 4, 2, [3, 3])
def test_epoch_orders_and_random_split_come_from_manual_seed_alone(
    seed, n, batch_size, epochs, weights
):
    torch.manual_seed(seed)
    loader = DataLoader(range(n), batch_size=batch_size, shuffle=True)
    orders = [[i for batch in loader for i in batch.tolist()] for _ in range(epochs)]
    assert orders == dataloader_epoch_orders(seed, n, epochs)
    advanced = Generator(seed)
    advanced.random(4 * epochs)  # two int64 per epoch: the base seed, the sampler's seed
    assert_same_state(torch.get_rng_state(), advanced)
    # random_split: one randperm of the (global) generator, cut in consecutive pieces
    lengths = [*weights[:-1], weights[-1] + n]
    total = sum(lengths)
    with warnings.catch_warnings():  # lengths summing to 1 are read as fractions and may warn
        warnings.simplefilter("ignore")
        subsets = torch.utils.data.random_split(range(total), lengths)
    order = advanced.randperm(total).tolist()
    ends = list(accumulate(lengths))
    assert [s.indices for s in subsets] == [
        order[end - size : end] for size, end in zip(lengths, ends, strict=True)
    ]


# --- the notes' example: torch.manual_seed(123); torch.rand(3, 2, 3, 3) ----------------------

NOTES_FIRST_ROWS = [0.2961, 0.5166, 0.2517, 0.6886, 0.0740, 0.8665, 0.1366, 0.1025, 0.1841]


@pytest.mark.spec("RNG-1", "RNG-2")
def test_the_notes_seeded_rand():
    torch.manual_seed(123)
    a = torch.rand(3, 2, 3, 3)
    reference = Generator(123).rand((3, 2, 3, 3))
    assert_bit_equal(a, reference)
    np.testing.assert_allclose(reference[0, 0].ravel(), NOTES_FIRST_ROWS, atol=5e-5)
    assert a[2, 1].flatten().tolist()[:3] == pytest.approx([0.5159, 0.4220, 0.5786], abs=5e-5)


# --- RNG-19: invalid input (OpInfo's error_inputs) --------------------------------------------

# (name, torch call on a device, reference call, torch's exception, reference's exception,
# keyword both messages contain on torch 2.4.1 to 2.14.1). Generator.manual_seed's overflow
# is a RuntimeError on 2.4.1 and a ValueError from 2.11 on.
VALUE = (RuntimeError, ValueError)
ERRORS = [
    ("randint empty range", lambda d: torch.randint(5, 5, (3,), device=d),
     lambda: Generator(0).randint(5, 5, (3,)), RuntimeError, ValueError, "from=5"),
    ("randint reversed", lambda d: torch.randint(5, 3, (3,), device=d),
     lambda: Generator(0).randint(5, 3, (3,)), RuntimeError, ValueError, "from=5"),
    ("randint high above dtype", lambda d: torch.randint(0, 300, (2,), dtype=torch.int8, device=d),
     lambda: Generator(0).randint(0, 300, (2,), "int8"), RuntimeError, ValueError, "to - 1"),
    ("randint low below dtype", lambda d: torch.randint(-200, 3, (2,), dtype=torch.int8, device=d),
     lambda: Generator(0).randint(-200, 3, (2,), "int8"), RuntimeError, ValueError, "from"),
    ("randint negative size", lambda d: torch.randint(0, 5, (-1,), device=d),
     lambda: Generator(0).randint(0, 5, (-1,)), RuntimeError, ValueError, "negative"),
    ("randperm negative", lambda d: torch.randperm(-1, device=d),
     lambda: Generator(0).randperm(-1), RuntimeError, ValueError, "negative"),
    ("randperm int8 overflow", lambda d: torch.randperm(300, dtype=torch.int8, device=d),
     lambda: Generator(0).randperm(300, "int8"), RuntimeError, ValueError, "overflow"),
    ("rand negative size", lambda d: torch.rand((2, -1), device=d),
     lambda: Generator(0).rand((2, -1)), RuntimeError, ValueError, "negative"),
    ("rand int64", lambda d: torch.rand(3, dtype=torch.int64, device=d),
     lambda: Generator(0).rand(3, "int64"), RuntimeError, TypeError, "implemented"),
    ("randn int64", lambda d: torch.randn(3, dtype=torch.int64, device=d),
     lambda: Generator(0).randn(3, "int64"), RuntimeError, TypeError, "implemented"),
    ("normal negative std", lambda d: torch.normal(0.0, -1.0, (3,), device=d),
     lambda: Generator(0).normal(0.0, -1.0, (3,)), RuntimeError, ValueError, "std"),
    ("bernoulli p above 1", lambda d: torch.bernoulli(torch.tensor([0.5, 1.5], device=d)),
     lambda: Generator(0).bernoulli(np.array([0.5, 1.5])), RuntimeError, ValueError, "p_in"),
    ("bernoulli_ p above 1", lambda d: torch.empty(3, device=d).bernoulli_(1.5),
     lambda: Generator(0).bernoulli_(3, 1.5), RuntimeError, ValueError, r"p to be in \[0, 1\]"),
]
GENERATOR_ERRORS = [
    ("state size", lambda: torch.set_rng_state(torch.zeros(10, dtype=torch.uint8)),
     lambda: Generator().set_state(np.zeros(10, np.uint8)), RuntimeError, ValueError, "size"),
    ("state all zero", lambda: torch.set_rng_state(torch.zeros(STATE_SIZE, dtype=torch.uint8)),
     lambda: Generator().set_state(np.zeros(STATE_SIZE, np.uint8)), RuntimeError, ValueError,
     "Invalid mt19937 state"),
    ("state left 0", lambda: torch.set_rng_state(_with(left=0)),
     lambda: Generator().set_state(_with(left=0).numpy()), RuntimeError, ValueError, "mt19937"),
    ("state next 625", lambda: torch.set_rng_state(_with(next=625)),
     lambda: Generator().set_state(_with(next=625).numpy()), RuntimeError, ValueError, "mt19937"),
    ("state not bytes", lambda: torch.set_rng_state(torch.zeros(STATE_SIZE)),
     lambda: Generator().set_state(np.zeros(STATE_SIZE)), TypeError, TypeError, "ByteTensor"),
    ("seed too large", lambda: torch.Generator().manual_seed(2**64),
     lambda: Generator(2**64), VALUE, ValueError, "Overflow"),
    ("seed too negative", lambda: torch.Generator().manual_seed(-(2**63) - 1),
     lambda: Generator(-(2**63) - 1), VALUE, ValueError, "Overflow"),
    ("seed a float", lambda: torch.Generator().manual_seed(1.5),
     lambda: Generator(1.5), RuntimeError, TypeError, "expected a long"),
]


def _with(**fields) -> torch.Tensor:
    """A valid state (seed 0) with some fields replaced."""
    record = np.frombuffer(Generator(0).get_state().tobytes(), STATE_DTYPE).copy()
    for name, value in fields.items():
        record[name] = value
    return torch.from_numpy(np.frombuffer(record.tobytes(), np.uint8).copy())


def _assert_both_raise_naming(torch_call, reference_call, torch_error, reference_error, keyword):
    """Error parity with a stable keyword in both messages."""
    torch_exc, _ = assert_both_raise(
        torch_call,
        reference_call,
        torch_error=torch_error,
        reference_error=reference_error,
        match=keyword,
    )
    assert re.search(keyword, str(torch_exc)), f"{keyword!r} not in torch's {torch_exc!r}"


@pytest.mark.spec("RNG-19")
@pytest.mark.parametrize(
    ("torch_call", "reference_call", "torch_error", "reference_error", "keyword"),
    [e[1:] for e in ERRORS],
    ids=[e[0] for e in ERRORS],
)
def test_invalid_samples_raise_in_both(
    device, torch_call, reference_call, torch_error, reference_error, keyword
):
    _assert_both_raise_naming(
        lambda: torch_call(device), reference_call, torch_error, reference_error, keyword
    )


@pytest.mark.spec("RNG-19")
@pytest.mark.parametrize(
    ("torch_call", "reference_call", "torch_error", "reference_error", "keyword"),
    [e[1:] for e in GENERATOR_ERRORS],
    ids=[e[0] for e in GENERATOR_ERRORS],
)
def test_invalid_states_and_seeds_raise_in_both(
    torch_call, reference_call, torch_error, reference_error, keyword
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_both_raise_naming(torch_call, reference_call, torch_error, reference_error, keyword)
