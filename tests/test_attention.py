"""ATTN: scaled dot-product attention and nn.MultiheadAttention, held to torch and to the
reference (reference/attention.py), on every implementation path torch offers: SDPA's default
dispatch and each backend chosen with `sdpa_kernel`, the module's slow path (training, or
weights that need grad) and its fast path (eval, no grad)."""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.nn.attention import SDPBackend, sdpa_kernel

from reference.attention import (
    MultiheadAttention,
    causal_mask,
    multi_head_attention_forward,
    scaled_dot_product_attention,
    xavier_normal_std,
    xavier_uniform_bound,
)
from tests.support import (
    RELEASE,
    assert_both_raise,
    assert_matches,
    known_torch_bug,
    to_numpy,
    to_torch,
    torch_at_least,
)

# --- which torch: feature detection ---------------------------------------------------------


@functools.cache
def sdpa_accepts(parameter: str) -> bool:
    """Whether this torch's SDPA takes ``parameter`` (a builtin: inspect.signature cannot
    say, so a tiny call does; `scale` came in 2.1, `enable_gqa` in 2.5)."""
    x = torch.zeros(1, 1, 1, 1)
    value = {"scale": None, "enable_gqa": False}[parameter]
    try:
        F.scaled_dot_product_attention(x, x, x, **{parameter: value})
    except TypeError:
        return False
    return True


# torch's `_safe_softmax` (2.5) gives a query that may attend no key zeros in SDPA's math and
# CPU flash kernels; torch 2.4 gave NaN there.
SAFE_SOFTMAX = hasattr(torch.ops.aten, "_safe_softmax")
requires_enable_gqa = pytest.mark.skipif(
    not sdpa_accepts("enable_gqa"),
    reason=f"{RELEASE}: scaled_dot_product_attention has no parameter 'enable_gqa' (2.5+)",
)

# --- strategies -----------------------------------------------------------------------------

# Values come from a NumPy generator seeded by Hypothesis: the shapes, masks' layout and
# options are what the properties explore, and drawing every element through Hypothesis
# would cost most of the suite's time budget.
SEEDS = st.integers(0, 2**32 - 1)


def _array(shape, dtype=np.float64):
    """Uniform values in [-3, 3] (exactly representable in float32), in ``dtype``."""
    return SEEDS.map(
        lambda seed: np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)
    ).map(lambda a: a.astype(dtype))


def _bool_mask(shape):
    """Random booleans, mostly True (allowed) or mostly False, and all-False rows likely
    enough to appear."""
    return st.tuples(SEEDS, st.sampled_from([0.25, 0.5, 0.85])).map(
        lambda c: np.random.default_rng(c[0]).random(shape) < c[1]
    )


def _float_mask(shape, dtype=np.float64):
    """Values in [-3, 3] with -inf mixed in (about a third, or none)."""
    def build(c):
        rng = np.random.default_rng(c[0])
        values = rng.uniform(-3, 3, shape).astype(np.float32)
        return np.where(rng.random(shape) < c[1], -np.inf, values).astype(dtype)

    return st.tuples(SEEDS, st.sampled_from([0.0, 0.35, 0.7])).map(build)


@st.composite
def masks(draw, scores_shape: tuple[int, ...], ndims: tuple[int, ...] | None = None):
    """None, a boolean mask (True: may attend) or a float mask (some -inf) whose shape
    broadcasts to ``scores_shape`` (a suffix of it, some dims 1), of one of ``ndims`` dims
    (the fused kernels take 2-D and 4-D masks)."""
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    if kind == "none":
        return None
    if ndims is None:
        ndim = draw(st.integers(min(2, len(scores_shape)), len(scores_shape)))
    else:
        ndim = draw(st.sampled_from(ndims))
    shape = tuple(1 if draw(st.booleans()) and i < ndim - 2 else n
                  for i, n in enumerate(scores_shape[len(scores_shape) - ndim :]))
    return draw(_bool_mask(shape) if kind == "bool" else _float_mask(shape))


@st.composite
def sdpa_cases(draw, *, fused: bool = False):
    """``(q, k, v, kwargs, noncontiguous)`` for SDPA. ``fused=True``: what the fused kernels
    take (4-D, one batch shape, equal head dims, nonempty, contiguous); otherwise any form
    torch accepts: 2-D to 4-D, broadcasting batch dims, empty sizes, E_v != E, and grouped
    query heads where the release has ``enable_gqa``."""
    kwargs: dict = {}
    if fused:
        batch = (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
        batches = (batch, batch, batch)
        length, source = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        e = ev = draw(st.sampled_from([1, 2, 3, 4, 8]))
    else:
        batches = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2, max_side=3))
        batches = batches.input_shapes
        length, source = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        e, ev = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        if sdpa_accepts("enable_gqa") and draw(st.integers(0, 3)) == 0:
            groups, kv_heads = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            n = draw(st.integers(1, 2))
            batches = ((n, groups * kv_heads), (n, kv_heads), (n, kv_heads))
            kwargs["enable_gqa"] = True
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    full = batches[0] if kwargs.get("enable_gqa") else np.broadcast_shapes(*batches)
    if 0 in (length, source, *full):  # see test_an_empty_input_broadcasts_the_batch_dims
        batches = (full, *batches[1:])
    q = draw(_array((*batches[0], length, e), dtype))
    k = draw(_array((*batches[1], source, e), dtype))
    v = draw(_array((*batches[2], source, ev), dtype))
    # the scores q @ k^T (an in-place add of the mask may not grow them; v's batch dims only
    # broadcast in the product with v)
    scores_batch = batches[0] if kwargs.get("enable_gqa") else np.broadcast_shapes(*batches[:2])
    scores = (*scores_batch, length, source)
    mask = draw(masks(scores, ndims=(2, 4) if fused else None))
    if mask is not None:
        kwargs["attn_mask"] = mask if mask.dtype == np.bool_ else mask.astype(dtype)
    elif draw(st.booleans()):
        kwargs["is_causal"] = True
    if sdpa_accepts("scale") and draw(st.booleans()):
        # is_causal with a scale <= 0: see test_causal_flash_attention_with_a_nonpositive_scale
        low = 0.05 if kwargs.get("is_causal") else -2.0
        kwargs["scale"] = draw(st.floats(low, 2, allow_subnormal=False))
    return q, k, v, kwargs, (not fused) and draw(st.booleans())


def _no_fully_masked_rows(kwargs: dict) -> dict:
    """The same mask with key 0 always allowed: for kernels (CUDA fused ones) whose result
    for a query that may attend no key this spec does not pin down."""
    mask = kwargs.get("attn_mask")
    if mask is None or mask.shape[-1] == 0:
        return kwargs
    mask = mask.copy()
    if mask.dtype == np.bool_:
        mask[..., 0] = True
    else:
        mask[..., 0] = 0.0
    return {**kwargs, "attn_mask": mask}


def _fully_masked(q, k, v, kwargs) -> np.ndarray:
    """Which query rows of the output may attend no key (all their mask entries -inf)."""
    mask = kwargs.get("attn_mask")
    out_shape = scaled_dot_product_attention(q, k, v, **kwargs).shape
    if mask is None or k.shape[-2] == 0:
        return np.zeros(out_shape[:-1], dtype=bool)
    blocked = ~mask if mask.dtype == np.bool_ else mask == -np.inf
    rows = np.all(blocked, axis=-1)
    return np.broadcast_to(rows, out_shape[:-1])


def expected_sdpa(q, k, v, kwargs) -> np.ndarray:
    """The reference, with NaN for queries that may attend no key on torch before 2.5."""
    out = scaled_dot_product_attention(q, k, v, **kwargs)
    if not SAFE_SOFTMAX:
        out = np.where(_fully_masked(q, k, v, kwargs)[..., None], np.nan, out)
    return out


def _torch_kwargs(kwargs: dict, device, dtype=None) -> dict:
    out = dict(kwargs)
    if "attn_mask" in out:
        mask = to_torch(out["attn_mask"], device)
        out["attn_mask"] = mask if dtype is None or mask.dtype == torch.bool else mask.to(dtype)
    return out


# --- ATTN-1..ATTN-4: scaled_dot_product_attention ---------------------------------------------

CAUSAL_WIDE = (  # L < S: query i sees keys 0..i only (top-left aligned)
    np.linspace(-1, 1, 4).reshape(2, 2), np.linspace(1, -1, 8).reshape(4, 2),
    np.arange(4.0).reshape(4, 1), {"is_causal": True}, False,
)
FULLY_MASKED = (  # query 1 may attend nothing: zeros (torch >= 2.5) or NaN (2.4)
    np.ones((1, 3, 2)), np.ones((1, 2, 2)), np.array([[[1.0, 1.0], [2.0, 2.0]]]),
    {"attn_mask": np.array([[True, False], [False, False], [False, True]])}, False,
)


@pytest.mark.spec("ATTN-1", "ATTN-2", "ATTN-3", "ATTN-4")
@given(sdpa_cases())
@example(CAUSAL_WIDE)
@example(FULLY_MASKED)
@example((np.zeros((2, 0, 3)), np.zeros((2, 4, 3)), np.ones((2, 4, 1)), {}, False))  # L = 0
@example((np.zeros((3, 2)), np.zeros((0, 2)), np.ones((0, 5)), {}, False))  # S = 0: zeros
def test_sdpa_matches_the_reference(device, case):
    """The default dispatch (on CPU the flash kernel for 4-D inputs, else the math one)."""
    q, k, v, kwargs, noncontiguous = case
    if device != "cpu":
        kwargs = _no_fully_masked_rows(kwargs)
    tq, tk, tv = (to_torch(x, device, noncontiguous=noncontiguous) for x in (q, k, v))
    got = F.scaled_dot_product_attention(tq, tk, tv, **_torch_kwargs(kwargs, device, tq.dtype))
    expected = expected_sdpa(q, k, v, kwargs)
    assert tuple(got.shape) == expected.shape
    assert_matches(got, expected)


BACKENDS = ["MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"]
CPU_BACKENDS = ("MATH", "FLASH_ATTENTION")  # the others are CUDA kernels
HALF = (torch.float16, torch.bfloat16)


def _backend_dtypes(backend: str, device: str) -> list[torch.dtype]:
    if device == "cpu" or backend == "MATH":
        return [torch.float32, torch.float64]
    if backend == "EFFICIENT_ATTENTION":
        return [torch.float32, torch.float16]
    return list(HALF)  # flash and cuDNN kernels take half precision only


def _backends(device: str) -> list[str]:
    """The backends `sdpa_kernel` can select in this release on this device."""
    present = [b for b in BACKENDS if hasattr(SDPBackend, b)]
    return [b for b in present if device != "cpu" or b in CPU_BACKENDS]


@pytest.mark.spec("ATTN-5")
@given(sdpa_cases(fused=True), st.integers(0, 1))
def test_every_sdpa_backend_matches_the_reference(device, case, which_dtype):
    """Each backend `sdpa_kernel` can select (on CPU: MATH and the flash kernel; on CUDA also
    the memory-efficient and cuDNN kernels), on the inputs fused kernels take. MATH and the
    CPU flash kernel must run them; a CUDA fused kernel may refuse an input it does not
    support (a RuntimeError: no available kernel), and what it computes must match."""
    q, k, v, kwargs, _ = case
    if device != "cpu":
        kwargs = _no_fully_masked_rows(kwargs)
    for backend in _backends(device):
        dtype = _backend_dtypes(backend, device)[which_dtype]
        tq, tk, tv = (to_torch(x, device).to(dtype) for x in (q, k, v))
        t_kwargs = _torch_kwargs(kwargs, device, dtype)
        try:
            with sdpa_kernel([getattr(SDPBackend, backend)]), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reasons a kernel is not used
                got = F.scaled_dot_product_attention(tq, tk, tv, **t_kwargs)
        except RuntimeError:
            if device == "cpu" or backend == "MATH":
                raise
            continue  # this CUDA kernel does not take this input
        inputs = [to_numpy(x.to(torch.float64)) for x in (tq, tk, tv)]  # the rounded inputs
        rounded = dict(kwargs)
        if "attn_mask" in kwargs and kwargs["attn_mask"].dtype != np.bool_:
            rounded["attn_mask"] = to_numpy(t_kwargs["attn_mask"].double())
        tolerance = {"rtol": 2e-2, "atol": 2e-2} if dtype in HALF else {}
        assert_matches(got, expected_sdpa(*inputs, rounded), check_dtype=False, **tolerance)


@pytest.mark.cuda
@pytest.mark.spec("ATTN-5")
def test_cuda_fused_backends_run(device):
    """The fused CUDA kernels take a plain 4-D input (so the property above is not vacuous):
    memory-efficient attention in float32, flash attention in float16 on sm80 and newer."""
    if device == "cpu":
        pytest.skip("the fused CUDA kernels need a CUDA device")
    q = torch.linspace(-1, 1, 64, device=device).reshape(1, 2, 4, 8)
    cases = [("EFFICIENT_ATTENTION", torch.float32)]
    if torch.cuda.get_device_capability(torch.device(device)) >= (8, 0):
        cases.append(("FLASH_ATTENTION", torch.float16))
    for backend, dtype in cases:
        x = q.to(dtype)
        with sdpa_kernel([getattr(SDPBackend, backend)]):
            got = F.scaled_dot_product_attention(x, x.flip(-2), x)
        expected = scaled_dot_product_attention(*(to_numpy(t.double()) for t in (x, x.flip(-2), x)))
        assert_matches(got, expected, check_dtype=False, rtol=2e-2, atol=2e-2)


@pytest.mark.spec("ATTN-4")
@pytest.mark.parametrize("backend", ["default", *CPU_BACKENDS])
def test_a_query_that_may_attend_no_key(backend):
    """SDPA's math and CPU flash kernels: zeros from torch 2.5 (`_safe_softmax`), NaN on 2.4;
    the other queries are unaffected. (On CPU: what CUDA's fused kernels give for such a
    query is not pinned down here.)"""
    q, k, v, kwargs, _ = FULLY_MASKED
    context = sdpa_kernel([getattr(SDPBackend, backend)]) if backend != "default" else None
    tq, tk, tv = (torch.from_numpy(x) for x in (q[None], k[None], v[None]))
    mask = torch.from_numpy(kwargs["attn_mask"])
    if context is None:
        got = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
    else:
        with context:
            got = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
    row = got[0, 0, 1]
    assert (row == 0).all() if SAFE_SOFTMAX else row.isnan().all()
    assert scaled_dot_product_attention(q, k, v, **kwargs)[0, 1].tolist() == [0.0, 0.0]
    assert got[0, 0, 0].tolist() == [1.0, 1.0] and got[0, 0, 2].tolist() == [2.0, 2.0]


@pytest.mark.spec("ATTN-2")
@pytest.mark.xfail(
    torch_at_least("2.12"),
    strict=True,
    reason="torch bug (introduced with the empty-input early return of pytorch/pytorch#175063, "
    "the fix of pytorch/pytorch#174939; seen on 2.13.0 and 2.14.1, not on 2.11.0): when an "
    "input is empty the output takes query's batch dims, not the broadcast ones",
)
def test_an_empty_input_broadcasts_the_batch_dims(device):
    q, k, v = np.zeros((1, 0, 2)), np.zeros((3, 2, 2)), np.zeros((2, 1))
    got = F.scaled_dot_product_attention(*(to_torch(x, device) for x in (q, k, v)))
    assert tuple(got.shape) == scaled_dot_product_attention(q, k, v).shape == (3, 0, 1)


@pytest.mark.spec("ATTN-5")
@known_torch_bug(
    fixed_in=None,
    issue="not reported upstream yet; found by this suite",
    why="the CPU flash kernel with is_causal=True and scale <= 0 gives NaN: it masks before "
    "scaling, so a masked score is -inf * 0 or +inf",
)
@pytest.mark.parametrize("scale", [0.0, -0.5])
def test_causal_flash_attention_with_a_nonpositive_scale(scale):
    x = torch.linspace(-1, 1, 6).reshape(1, 1, 3, 2)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        got = F.scaled_dot_product_attention(x, x, x, is_causal=True, scale=scale)
    expected = scaled_dot_product_attention(*(to_numpy(x),) * 3, is_causal=True, scale=scale)
    assert_matches(got, expected)


@pytest.mark.spec("ATTN-1")
def test_causal_mask_is_top_left_aligned():
    assert causal_mask(2, 3).tolist() == [[True, False, False], [True, True, False]]
    assert causal_mask(3, 2).tolist() == torch.ones(3, 2).tril().bool().tolist()


# --- ATTN-6..ATTN-9: nn.MultiheadAttention --------------------------------------------------


@st.composite
def mha_cases(draw, *, fast_path: bool = False):
    """A module configuration, inputs, masks and forward options. ``fast_path``: what the
    module's fast path takes (batched self-attention, batch_first, an even number of heads,
    biases, one embed dim, no bias_kv, no zero attention, boolean masks)."""
    heads = draw(st.sampled_from([2, 4] if fast_path else [1, 2, 3]))
    embed = heads * draw(st.integers(1, 2))
    config = {
        "embed_dim": embed,
        "num_heads": heads,
        "bias": fast_path or draw(st.booleans()),
        "add_bias_kv": (not fast_path) and draw(st.booleans()),
        "add_zero_attn": (not fast_path) and draw(st.booleans()),
        "kdim": None if fast_path or draw(st.booleans()) else draw(st.integers(1, 3)),
        "vdim": None if fast_path or draw(st.booleans()) else draw(st.integers(1, 3)),
        "batch_first": fast_path or draw(st.booleans()),
    }
    batched = fast_path or draw(st.booleans())
    n = draw(st.integers(1, 2) if fast_path else st.integers(0, 2))
    length = draw(st.integers(1, 3) if fast_path else st.integers(0, 3))
    source = length if fast_path else draw(st.integers(0, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))

    def sequence(t, width):
        shape = (n, t, width) if config["batch_first"] else (t, n, width)
        shape = shape if batched else (t, width)
        return draw(_array(shape, dtype))

    query = sequence(length, embed)
    key = query if fast_path else sequence(source, config["kdim"] or embed)
    value = query if fast_path else sequence(source, config["vdim"] or embed)
    options = {
        "need_weights": draw(st.booleans()),
        "average_attn_weights": draw(st.booleans()),
    }
    kind = "bool" if fast_path else draw(st.sampled_from(["bool", "float"]))

    def mask(shape):
        return draw(_bool_mask(shape) if kind == "bool" else _float_mask(shape, dtype))

    if draw(st.booleans()):
        options["key_padding_mask"] = mask((n, source) if batched else (source,))
    causal = (not fast_path) and length == source and draw(st.integers(0, 3)) == 0
    if causal:  # is_causal is a hint: the mask must be the causal one
        upper = ~causal_mask(length, source)
        additive = np.where(upper, -np.inf, 0).astype(dtype)
        options["attn_mask"] = upper if kind == "bool" else additive
        options["is_causal"] = True
    elif draw(st.booleans()):
        three_d = draw(st.booleans())
        lead = ((n * heads,) if batched else (heads,)) if three_d else ()
        options["attn_mask"] = mask((*lead, length, source))
    return config, query, key, value, options, draw(st.integers(0, 2**32 - 1))


PARAMETERS = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
              "in_proj_bias", "bias_k", "bias_v"]


def _modules(config, dtype, seed, device):
    """The reference module (its parameters drawn from ``seed``) and torch's, with the
    reference's parameters copied in."""
    reference = MultiheadAttention(**config, dtype=dtype, rng=np.random.default_rng(seed))
    module = nn.MultiheadAttention(**config, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype)
    with torch.no_grad():
        for name in PARAMETERS:
            if getattr(reference, name) is not None:
                getattr(module, name).copy_(torch.from_numpy(getattr(reference, name)))
        module.out_proj.weight.copy_(torch.from_numpy(reference.out_proj_weight))
        if reference.out_proj_bias is not None:
            module.out_proj.bias.copy_(torch.from_numpy(reference.out_proj_bias))
    return reference, module.to(device)


def _call_torch(module, query, key, value, options, device, same_tensor=False):
    tq = to_torch(query, device)
    tk, tv = (tq, tq) if same_tensor else (to_torch(key, device), to_torch(value, device))
    kwargs = {
        n: to_torch(x, device) if isinstance(x, np.ndarray) else x for n, x in options.items()
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mismatched mask types: a deprecation warning
        return module(tq, tk, tv, **kwargs)


def _nan_rows_of_the_explicit_softmax(reference, query, key, value, options):
    """Which outputs the explicit softmax makes NaN: queries (in some head) that may attend
    no key. Shape of the output without its last dim."""
    per_head = {**options, "need_weights": True, "average_attn_weights": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, weights = reference(query, key, value, **per_head)
    return np.isnan(out).any(axis=-1)


@pytest.mark.spec("ATTN-6", "ATTN-7", "ATTN-8")
@given(mha_cases())
def test_module_slow_path_matches_the_reference(device, case):
    """Training mode (the slow path, `F.multi_head_attention_forward`): output and weights,
    batch_first, unbatched and empty inputs, kdim/vdim, bias_kv, zero attention, masks."""
    config, query, key, value, options, seed = case
    if device != "cpu":  # key 0 always allowed: CUDA's fused kernels are not pinned down
        options = _no_fully_masked_rows_mha(options)
    reference, module = _modules(config, query.dtype, seed, device)
    try:
        output, weights = _call_torch(module, query, key, value, options, device)
    except RuntimeError:  # an empty input with a mask and need_weights=False (ATTN-7)
        with pytest.raises(ValueError, match="ambiguous"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference(query, key, value, **options)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, expected_weights = reference(query, key, value, **options)
    if not options["need_weights"] and not SAFE_SOFTMAX:  # SDPA gave NaN before 2.5
        nan_rows = _nan_rows_of_the_explicit_softmax(reference, query, key, value, options)
        expected = np.where(nan_rows[..., None], np.nan, expected)
    assert tuple(output.shape) == expected.shape
    assert_matches(output, expected)
    if expected_weights is None:
        assert weights is None
    else:
        assert_matches(weights, expected_weights)


@pytest.mark.spec("ATTN-9")
@given(mha_cases(fast_path=True))
def test_module_fast_path_is_the_explicit_softmax(device, case):
    """Eval mode without grad (the fast path, `torch._native_multi_head_attention`): the
    output is the reference's with need_weights=True, NaN for a query that may attend no key
    even when need_weights=False."""
    config, query, _, _, options, seed = case
    if device != "cpu":  # key 0 always allowed: CUDA's fused kernels are not pinned down
        options = _no_fully_masked_rows_mha(options)
    reference, module = _modules(config, query.dtype, seed, device)
    module.eval()
    with torch.no_grad():
        output, weights = _call_torch(module, query, query, query, options, device, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explicit = {**options, "need_weights": True}
        expected, expected_weights = reference(query, query, query, **explicit)
    assert_matches(output, expected)
    if options["need_weights"]:
        assert_matches(weights, expected_weights)
    else:
        assert weights is None


def _no_fully_masked_rows_mha(options: dict) -> dict:
    options = dict(options)
    for name in ("key_padding_mask", "attn_mask"):
        if name in options and options[name].shape[-1]:
            mask = options[name].copy()
            mask[..., 0] = False
            options[name] = mask
    return options


@pytest.mark.spec("ATTN-8", "ATTN-9")
def test_a_query_that_may_attend_no_key_per_module_path():
    """One batch row fully padded: the slow path gives NaN with need_weights=True, the SDPA
    result (zeros from 2.5, NaN on 2.4) passed through out_proj without; the fast path gives
    NaN either way. The other batch row is the same on every path. (On CPU.)"""
    device = "cpu"
    reference = MultiheadAttention(4, 2, batch_first=True, dtype=np.float64,
                                   rng=np.random.default_rng(0))
    reference.in_proj_bias = np.linspace(-1, 1, 12)
    reference.out_proj_bias = np.linspace(1, 2, 4)
    _, module = _modules({"embed_dim": 4, "num_heads": 2, "batch_first": True}, np.float64, 0,
                         device)
    with torch.no_grad():
        module.in_proj_bias.copy_(torch.from_numpy(reference.in_proj_bias))
        module.out_proj.bias.copy_(torch.from_numpy(reference.out_proj_bias))
    x = np.linspace(-1, 1, 24).reshape(2, 3, 4)
    padding = np.array([[False, False, True], [True, True, True]])
    results = {}
    for mode in ("slow", "fast"):
        module.train(mode == "slow")
        for need_weights in (True, False):
            with torch.no_grad():
                out, _ = _call_torch(module, x, x, x, {"key_padding_mask": padding,
                                                       "need_weights": need_weights}, device, True)
            results[mode, need_weights] = to_numpy(out)
    out_nw, _ = reference(x, x, x, key_padding_mask=padding)
    out_sdpa, _ = reference(x, x, x, key_padding_mask=padding, need_weights=False)
    assert np.isnan(out_nw[1]).all() and (out_sdpa[1] == reference.out_proj_bias).all()
    for result in results.values():
        assert_matches(torch.from_numpy(result[0]), out_nw[0])
    assert np.isnan(results["slow", True][1]).all()
    assert np.isnan(results["fast", True][1]).all() and np.isnan(results["fast", False][1]).all()
    if SAFE_SOFTMAX:
        assert_matches(torch.from_numpy(results["slow", False][1]), out_sdpa[1])
    else:
        assert np.isnan(results["slow", False][1]).all()


INIT_CONFIGS = [  # (embed_dim, num_heads, bias, add_bias_kv, kdim, vdim)
    (4, 2, True, False, None, None),
    (6, 3, False, True, None, None),
    (4, 4, True, True, 3, 5),
    (2, 1, True, False, 2, None),
]


@pytest.mark.spec("ATTN-7")
def test_masks_of_different_types_warn_and_add(device):
    """A boolean padding mask with a float attn_mask: a deprecation warning, then their sum."""
    reference, module = _modules({"embed_dim": 2, "num_heads": 1}, np.float64, 1, device)
    x = np.linspace(-1, 1, 12).reshape(3, 2, 2)
    padding = np.array([[False, True, False], [False, False, False]])
    additive = np.array([[0.0, -1.0, -np.inf], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    args = [to_torch(a, device) for a in (x, x, x)]
    with pytest.warns(UserWarning, match="mismatched"):
        got, weights = module(*args, key_padding_mask=to_torch(padding, device),
                              attn_mask=to_torch(additive, device))
    with pytest.warns(UserWarning, match="mismatched"):
        expected, expected_weights = reference(x, x, x, key_padding_mask=padding,
                                               attn_mask=additive)
    assert_matches(got, expected)
    assert_matches(weights, expected_weights)
    assert expected_weights[0, 0, 1] == 0.0 and expected_weights[0, 0, 2] == 0.0


@pytest.mark.spec("ATTN-10")
@pytest.mark.parametrize(("embed", "heads", "bias", "bias_kv", "kdim", "vdim"), INIT_CONFIGS)
def test_parameter_shapes_and_init_ranges(embed, heads, bias, bias_kv, kdim, vdim):
    """Variables: shapes, zeros for the biases, xavier_uniform_ bounds for the in-projection,
    Linear's bound for out_proj, in torch and in the reference."""
    config = dict(embed_dim=embed, num_heads=heads, bias=bias, add_bias_kv=bias_kv,
                  kdim=kdim, vdim=vdim)
    module = nn.MultiheadAttention(**config)
    reference = MultiheadAttention(**config, rng=np.random.default_rng(embed))
    for name in PARAMETERS:
        t, r = getattr(module, name), getattr(reference, name)
        assert (t is None) == (r is None), name
        if t is None:
            continue
        assert tuple(t.shape) == r.shape and t.dtype == torch.float32 and r.dtype == np.float32
        if name.endswith("weight"):
            bound = xavier_uniform_bound(r.shape)
            assert t.abs().max().item() <= bound and np.abs(r).max() <= bound
            assert t.abs().max().item() > bound / 2  # spread over the interval, not collapsed
        elif name == "in_proj_bias":
            assert not t.any() and not r.any()
        else:  # bias_k, bias_v: xavier_normal_ of a (1, 1, E) tensor, std 1/sqrt(E)
            assert xavier_normal_std(r.shape) == pytest.approx(1 / np.sqrt(embed))
            assert t.std().item() < 4 / np.sqrt(embed)
    out_weight = module.out_proj.weight
    assert tuple(out_weight.shape) == reference.out_proj_weight.shape == (embed, embed)
    assert out_weight.abs().max().item() <= 1 / np.sqrt(embed)
    assert np.abs(reference.out_proj_weight).max() <= 1 / np.sqrt(embed)
    if bias:
        assert not module.out_proj.bias.any() and not reference.out_proj_bias.any()
    assert module._qkv_same_embed_dim == reference._qkv_same_embed_dim == (kdim in (None, embed)
                                                                        and vdim in (None, embed))


# --- the notes' example ---------------------------------------------------------------------


@pytest.mark.spec("ATTN-6", "ATTN-8")
def test_notes_layer_on_a_tiny_hand_computed_example(device):
    """One head, E = 2, identity projections, no biases: the weights are
    softmax(x x^T / sqrt 2) row by row, [[0.6698, 0.3302], [0.3302, 0.6698]]."""
    module = nn.MultiheadAttention(2, 1, bias=False, batch_first=True).to(device)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.eye(2).repeat(3, 1))
        module.out_proj.weight.copy_(torch.eye(2))
    x = torch.eye(2, device=device)[None]
    output, weights = module(x, x, x)
    golden = [[0.6698, 0.3302], [0.3302, 0.6698]]
    assert np.allclose(weights[0].tolist(), golden, atol=1e-4)
    assert np.allclose(output[0].tolist(), golden, atol=1e-4)  # V = x: output = weights
    reference = MultiheadAttention(2, 1, bias=False, batch_first=True)
    reference.in_proj_weight = np.tile(np.eye(2, dtype=np.float32), (3, 1))
    reference.out_proj_weight = np.eye(2, dtype=np.float32)
    _, ref_weights = reference(np.eye(2, dtype=np.float32)[None], np.eye(2)[None], np.eye(2)[None])
    assert np.allclose(ref_weights[0], golden, atol=1e-4)


# --- ATTN-11: errors --------------------------------------------------------------------------

def _arrays(a, kwargs: dict) -> dict:
    return {n: a(x) if isinstance(x, np.ndarray) else x for n, x in kwargs.items()}


def _sdpa(q, k, v, **kwargs):
    """A call of scaled_dot_product_attention (torch's or the reference's)."""
    return "sdpa", lambda f, a: f(a(q), a(k), a(v), **_arrays(a, kwargs))


def _mha(q, k, v, embed=4, heads=2, **kwargs):
    """A call of multi_head_attention_forward (sequence-first) with zero weights."""

    def call(f, a):
        weights = (a(np.zeros((3 * embed, embed))), a(np.zeros(3 * embed)), None, None, False,
                   0.0, a(np.zeros((embed, embed))), a(np.zeros(embed)))
        return f(a(q), a(k), a(v), embed, heads, *weights, **_arrays(a, kwargs))

    return "mha", call


def _mha_expecting(q, k, v, embed_dim_to_check):
    """multi_head_attention_forward told to expect another embed dim than the inputs'."""
    e = embed_dim_to_check
    return "mha", lambda f, a: f(a(q), a(k), a(v), e, 1, a(np.zeros((3 * e, e))), None, None,
                                 None, False, 0.0, a(np.zeros((e, e))), None)


FUNCTIONS = {
    "sdpa": (F.scaled_dot_product_attention, scaled_dot_product_attention),
    "mha": (F.multi_head_attention_forward, multi_head_attention_forward),
}
Q, KV = np.zeros((2, 3, 4)), np.zeros((2, 5, 4))  # SDPA: (N, L, E), (N, S, E)
E3, S5 = np.zeros((3, 2, 4)), np.zeros((5, 2, 4))  # MHA: (L, N, E), (S, N, E)
ONES_3_5 = np.ones((3, 5), bool)

# The error inputs (OpInfo's error_inputs): (name, (function, call), torch's exception,
# keyword, parameter the release must have). `call(f, a)` runs torch's or the reference's
# function on arrays made by `a`. The keyword is in torch's message on 2.4.1 to 2.14.1 and
# in the reference's (always a ValueError).
ERRORS = [
    ("sdpa 1-D", _sdpa(np.zeros(4), np.zeros(4), np.zeros(4)), RuntimeError, "2 dimensional",
     None),
    ("sdpa dtypes", _sdpa(Q.astype(np.float32), KV, KV), RuntimeError, "same dtype", None),
    ("sdpa mask with causal", _sdpa(Q, KV, KV, attn_mask=ONES_3_5, is_causal=True),
     RuntimeError, "is_causal", None),
    ("sdpa mask dtype", _sdpa(Q, KV, KV, attn_mask=np.ones((3, 5), np.int64)), RuntimeError,
     "attn_mask dtype", None),
    ("sdpa mask shape", _sdpa(Q, KV, KV, attn_mask=np.ones((4, 5), bool)), RuntimeError,
     r"\(3\)\D+\(4\)", None),
    ("sdpa mask grows", _sdpa(Q, KV, KV, attn_mask=np.ones((2, 2, 3, 5), bool)), RuntimeError,
     "broadcast shape", None),
    ("sdpa dropout range", _sdpa(Q, KV, KV, dropout_p=1.5), RuntimeError, "between 0 and 1",
     None),
    ("sdpa gqa heads", _sdpa(np.zeros((1, 4, 3, 2)), np.zeros((1, 3, 5, 2)),
                             np.zeros((1, 3, 5, 2)), enable_gqa=True), RuntimeError, "divide",
     "enable_gqa"),
    ("mha query dims", _mha(np.zeros((1, 3, 2, 4)), S5, S5), AssertionError,
     "2D or batched 3D", None),
    ("mha key dims", _mha(E3, np.zeros((5, 4)), np.zeros((5, 4))), AssertionError, "3-D", None),
    ("mha padding dims", _mha(E3, S5, S5, key_padding_mask=np.zeros(5, bool)), AssertionError,
     "key_padding_mask", None),
    ("mha padding shape", _mha(E3, S5, S5, key_padding_mask=np.zeros((2, 6), bool)),
     AssertionError, "key_padd(ing|ed)_mask", None),
    ("mha 2-D mask shape", _mha(E3, S5, S5, attn_mask=np.zeros((3, 4), bool)), RuntimeError,
     r"should be \(3, 5\)", None),
    ("mha 3-D mask shape", _mha(E3, S5, S5, attn_mask=np.zeros((2, 3, 5), bool)), RuntimeError,
     r"should be \(4, 3, 5\)", None),
    ("mha mask dtype", _mha(E3, S5, S5, attn_mask=np.zeros((3, 5), np.int64)), AssertionError,
     "bool and floating", None),
    ("mha embed dim", _mha_expecting(E3, S5, S5, 5), AssertionError, "embedding dimension of 5",
     None),
    ("mha heads divide", _mha(E3, S5, S5, embed=4, heads=3), AssertionError, "divisible", None),
    ("mha key value", _mha(E3, S5, np.zeros((4, 2, 4))), AssertionError,
     "does not match value shape", None),
    ("mha causal without mask", _mha(E3, S5, S5, is_causal=True), RuntimeError, "attn_mask",
     None),
]


@pytest.mark.spec("ATTN-11")
@pytest.mark.parametrize(
    ("function", "error", "keyword", "needs"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_invalid_inputs_raise_in_both(device, function, error, keyword, needs):
    if needs is not None and not sdpa_accepts(needs):
        pytest.skip(f"{RELEASE}: scaled_dot_product_attention has no parameter {needs!r}")
    kind, call = function
    torch_function, reference_function = FUNCTIONS[kind]
    torch_exc, _ = assert_both_raise(
        lambda: call(torch_function, lambda x: to_torch(x, device)),
        lambda: call(reference_function, lambda x: x),
        torch_error=error,
        match=keyword,
    )
    assert re.search(keyword, str(torch_exc)), f"{keyword!r} not in torch's {torch_exc!r}"


@pytest.mark.spec("ATTN-11")
@pytest.mark.parametrize(("embed", "heads"), [(0, 1), (4, 0), (4, 3)])
def test_module_arguments_are_checked(embed, heads):
    keyword = "greater than 0" if embed <= 0 or heads <= 0 else "divisible"
    assert_both_raise(
        lambda: nn.MultiheadAttention(embed, heads),
        lambda: MultiheadAttention(embed, heads),
        torch_error=(ValueError, AssertionError),
        match=keyword,
    )
