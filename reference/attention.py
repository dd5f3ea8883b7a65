"""Attention: scaled dot-product attention and multi-head attention (clauses ATTN-*).

``scaled_dot_product_attention`` mirrors ``torch.nn.functional.scaled_dot_product_attention``,
``multi_head_attention_forward`` mirrors ``torch.nn.functional.multi_head_attention_forward``
(the computation of ``nn.MultiheadAttention`` outside its fast path), and
``MultiheadAttention`` holds the module's parameters and does what its ``forward`` does
around that function (``batch_first``, the unbatched form). NumPy arrays in and out, computed
in float64 and returned in the query's floating dtype; dropout is not modelled (the reference
is deterministic), so ``dropout_p`` must be 0 wherever it would apply.

NumPy only: this module is part of the independent oracle and never imports torch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from reference.activations import softmax

__all__ = [
    "MultiheadAttention",
    "causal_mask",
    "multi_head_attention_forward",
    "scaled_dot_product_attention",
    "xavier_normal_std",
    "xavier_uniform_bound",
]

ArrayOrNone = np.ndarray | None


def _float_input(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{name} must have a floating dtype, got dtype {x.dtype}")
    return x


def causal_mask(target_length: int, source_length: int) -> np.ndarray:
    r"""The boolean mask of ``is_causal=True``: query $i$ may attend key $j$ iff $j \le i$
    (``torch.ones(L, S).tril()``, aligned at the top left, also when $L \ne S$)."""
    return np.tri(target_length, source_length, dtype=bool)


def _additive_mask(mask: np.ndarray) -> np.ndarray:
    """A boolean mask (True: may attend) as 0 / -inf; a float mask as it is."""
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return np.where(mask, 0.0, -np.inf)
    if mask.dtype.kind != "f":
        raise ValueError(
            f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {mask.dtype}"
        )
    return mask.astype(np.float64)


def _check_mask_shape(scores: tuple[int, ...], mask: tuple[int, ...]) -> None:
    """The mask must broadcast to the scores' shape without growing it (torch's messages)."""
    for i in range(1, min(len(scores), len(mask)) + 1):
        a, b = scores[-i], mask[-i]
        if a != b and b != 1:
            raise ValueError(
                f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                f"non-singleton dimension {len(scores) - i}"
            )
    if len(mask) > len(scores):
        target = (*mask[: len(mask) - len(scores)], *scores)
        raise ValueError(
            f"output with shape {list(scores)} doesn't match the broadcast shape {list(target)}"
        )


def _safe_softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last dim, with 0 (not NaN) for a row whose scores are all -inf."""
    if scores.shape[-1] == 0:
        return scores
    fully_masked = np.all(scores == -np.inf, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        probabilities = softmax(scores, dim=-1)
    return np.where(fully_masked, 0.0, probabilities)


def scaled_dot_product_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    attn_mask: ArrayOrNone = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> np.ndarray:
    r"""$\mathrm{softmax}\big(Q K^\top \cdot s + M\big)\, V$ over the last two dims.

    ``query`` $(\dots, L, E)$, ``key`` $(\dots, S, E)$, ``value`` $(\dots, S, E_v)$ give
    $(\dots, L, E_v)$; the batch dims broadcast. $s$ is ``scale``, by default $1/\sqrt{E}$.
    $M$ is 0 / $-\infty$ for a boolean ``attn_mask`` (True: may attend), the mask itself for
    a float one, or the ``causal_mask`` for ``is_causal``; it broadcasts to $(\dots, L, S)$.
    A query row whose scores are all $-\infty$ (every key masked) gives zeros, as torch's
    ``_safe_softmax`` (torch 2.4 gave NaN). ``enable_gqa`` repeats each key and value head
    $H_q / H_{kv}$ times along dim -3 (``repeat_interleave``).

    Raises:
        ValueError: fewer than 2 dims, different or non-float dtypes, shapes that do not
            multiply, a mask that does not broadcast to the scores, ``attn_mask`` with
            ``is_causal``, key/value heads that do not divide the query heads, or
            ``dropout_p`` not 0.
    """
    q, k, v = (_float_input(n, x) for n, x in (("query", query), ("key", key), ("value", value)))
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(
            f"Expected query, key, and value to all be at least 2 dimensional, but got "
            f"query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: {v.ndim} instead."
        )
    if not q.dtype == k.dtype == v.dtype:
        raise ValueError(
            f"Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{q.dtype} key.dtype: {k.dtype} and value.dtype: {v.dtype} instead."
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if dropout_p != 0.0:
        raise ValueError("dropout_p must be 0: the reference does not draw dropout masks")
    if is_causal and attn_mask is not None:
        raise ValueError("Explicit attn_mask should not be set when is_causal=True")
    if k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"query {q.shape}, key {k.shape} and value {v.shape}: the last dims of query and "
            f"key, and the sequence lengths (dim -2) of key and value, must match"
        )
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    if enable_gqa:
        heads = [x.shape[-3] if x.ndim >= 3 else 0 for x in (q, k, v)]
        if not all(heads) or heads[0] % heads[1] or heads[0] % heads[2]:
            raise ValueError(
                "Number of heads in key and value must divide the number of heads in query: "
                f"query {q.shape}, key {k.shape}, value {v.shape} (heads are dim -3)"
            )
        k64 = np.repeat(k64, q.shape[-3] // k.shape[-3], axis=-3)
        v64 = np.repeat(v64, q.shape[-3] // v.shape[-3], axis=-3)
    length, source = q.shape[-2], k.shape[-2]
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    try:
        scores = np.matmul(q64, np.swapaxes(k64, -1, -2)) * s
    except ValueError:
        raise ValueError(
            f"The batch dims of query {q.shape} and key {k.shape} do not broadcast"
        ) from None
    if is_causal:
        attn_mask = causal_mask(length, source)
    if attn_mask is not None:
        bias = _additive_mask(attn_mask)
        _check_mask_shape(scores.shape, bias.shape)
        scores = scores + bias
    out = np.matmul(_safe_softmax(scores), v64)
    return out.astype(q.dtype)


def _linear(x: np.ndarray, weight: np.ndarray, bias: ArrayOrNone) -> np.ndarray:
    out = x @ np.asarray(weight, np.float64).T
    return out if bias is None else out + np.asarray(bias, np.float64)


def _canonical_mask(
    mask: ArrayOrNone, name: str, other: ArrayOrNone = None, other_name: str = ""
) -> ArrayOrNone:
    """torch's ``_canonical_mask``: a boolean mask (True: masked out) becomes 0 / -inf, a
    float mask stays; other dtypes are refused, and a mask whose type differs from
    ``other``'s warns."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise ValueError(f"only bool and floating types of {name} are supported")
    if other is not None and np.asarray(other).dtype != mask.dtype:
        warnings.warn(
            f"Support for mismatched {name} and {other_name} is deprecated. Use same type for "
            "both instead.",
            UserWarning,
            stacklevel=3,
        )
    if mask.dtype == np.bool_:
        return np.where(mask, -np.inf, 0.0)
    return mask.astype(np.float64)


def _shape_check(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    key_padding_mask: ArrayOrNone,
    attn_mask: ArrayOrNone,
    num_heads: int,
) -> bool:
    """torch's ``_mha_shape_check``: 3-D inputs are batched, 2-D unbatched; returns which."""
    if query.ndim not in (2, 3):
        raise ValueError(
            f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
            "query tensor"
        )
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(
            f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
            f"{key.ndim}-D and {value.ndim}-D tensors respectively"
        )
    if key_padding_mask is not None and np.ndim(key_padding_mask) != query.ndim - 1:
        raise ValueError(
            f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
            f"{query.ndim - 1}-D but found {np.ndim(key_padding_mask)}-D tensor instead"
        )
    if attn_mask is not None:
        if np.ndim(attn_mask) not in (2, 3):
            raise ValueError(
                f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{np.ndim(attn_mask)}-D tensor instead"
            )
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and np.ndim(attn_mask) == 3 and np.shape(attn_mask) != expected:
            raise ValueError(
                f"Expected `attn_mask` shape to be {expected} but got {np.shape(attn_mask)}"
            )
    return batched


def multi_head_attention_forward(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: ArrayOrNone,
    in_proj_bias: ArrayOrNone,
    bias_k: ArrayOrNone,
    bias_v: ArrayOrNone,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: np.ndarray,
    out_proj_bias: ArrayOrNone,
    training: bool = True,
    key_padding_mask: ArrayOrNone = None,
    need_weights: bool = True,
    attn_mask: ArrayOrNone = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: ArrayOrNone = None,
    k_proj_weight: ArrayOrNone = None,
    v_proj_weight: ArrayOrNone = None,
    static_k: ArrayOrNone = None,
    static_v: ArrayOrNone = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[np.ndarray, ArrayOrNone]:
    r"""Multi-head attention on sequence-first inputs, as torch's functional form.

    ``query`` $(L, N, E)$, ``key`` $(S, N, E_k)$, ``value`` $(S, N, E_v)$ (or unbatched
    $(L, E)$, $(S, E_k)$, $(S, E_v)$). The in-projection makes $q, k, v$ of width $E$ (packed
    ``in_proj_weight`` $(3E, E)$ in the order q, k, v, or the separate weights), ``bias_k``
    / ``bias_v`` append one key and value, ``add_zero_attn`` one zero key and value; the $E$
    features split into $H$ heads of $d = E / H$. Per head

    $$
    \mathrm{head}_h = \mathrm{softmax}\Big(\frac{q_h k_h^\top}{\sqrt d} + M\Big)\, v_h,
    \qquad
    \mathrm{out} = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W_o^\top + b_o,
    $$

    where $M$ adds ``attn_mask`` ($(L, S)$ or $(N H, L, S)$; boolean True masks out) and
    ``key_padding_mask`` ($(N, S)$, True masks out). With ``need_weights`` the softmax is
    explicit and the weights $(N, H, L, S)$ are returned, averaged over heads when
    ``average_attn_weights``; a query that may attend no key then gives NaN. Without it the
    heads go through `scaled_dot_product_attention` (zeros for such a query) and the weights
    are None. ``is_causal`` needs ``attn_mask`` (the causal mask itself); without a padding
    mask and without weights it is passed to SDPA as ``is_causal`` instead of the mask.

    Raises:
        ValueError: the shape checks of torch (which raises ``AssertionError`` or
            ``RuntimeError``), a mask dtype other than bool or float, or dropout in training.
    """
    query, key, value = (np.asarray(x) for x in (query, key, value))
    out_dtype = query.dtype
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            key_padding_mask = np.asarray(key_padding_mask)[None]
    target_length, batch, embed_dim = query.shape
    source_length = key.shape[0]
    kpm = _canonical_mask(key_padding_mask, "key_padding_mask", attn_mask, "attn_mask")
    if is_causal and attn_mask is None:
        raise ValueError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and kpm is None and not need_weights:
        mask = None  # SDPA gets the is_causal hint instead of the mask
    else:
        mask = _canonical_mask(attn_mask, "attn_mask")
        if kpm is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise ValueError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                f"{value.shape[:2]}"
            )
    elif key.shape != value.shape:
        raise ValueError(f"key shape {key.shape} does not match value shape {value.shape}")
    if training and dropout_p > 0.0:
        raise ValueError("dropout_p must be 0 in training: the reference draws no dropout masks")

    x_q, x_k, x_v = (x.astype(np.float64) for x in (query, key, value))
    biases = [None] * 3 if in_proj_bias is None else np.split(np.asarray(in_proj_bias), 3)
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise ValueError("use_separate_proj_weight is False but in_proj_weight is None")
        weights = np.split(np.asarray(in_proj_weight), 3)
    else:
        weights = [q_proj_weight, k_proj_weight, v_proj_weight]
        for name, w in zip("qkv", weights, strict=True):
            if w is None:
                raise ValueError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
    q, k, v = (_linear(x, w, b) for x, w, b in zip((x_q, x_k, x_v), weights, biases, strict=True))

    if mask is not None:
        if mask.ndim == 2:
            if mask.shape != (target_length, source_length):
                raise ValueError(
                    f"The shape of the 2D attn_mask is {mask.shape}, but should be "
                    f"{(target_length, source_length)}."
                )
            mask = mask[None]
        elif mask.shape != (batch * num_heads, target_length, source_length):
            raise ValueError(
                f"The shape of the 3D attn_mask is {mask.shape}, but should be "
                f"{(batch * num_heads, target_length, source_length)}."
            )
    if (bias_k is None) != (bias_v is None):
        raise ValueError("bias_k and bias_v must both be set or both be None")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ValueError("bias cannot be added to static key or value.")
        row = (1, batch, embed_dim)  # bias_k.repeat(1, N, 1)
        k = np.concatenate([k, np.broadcast_to(np.asarray(bias_k, np.float64), row)])
        v = np.concatenate([v, np.broadcast_to(np.asarray(bias_v, np.float64), row)])
        mask = None if mask is None else np.pad(mask, [(0, 0), (0, 0), (0, 1)])
        kpm = None if kpm is None else np.pad(kpm, [(0, 0), (0, 1)])

    heads = batch * num_heads

    def split_heads(x: np.ndarray) -> np.ndarray:  # (T, N, E) -> (N H, T, d)
        return x.reshape(x.shape[0], heads, head_dim).transpose(1, 0, 2)

    q = split_heads(q)
    k = split_heads(k) if static_k is None else _static("static_k", static_k, heads, head_dim)
    v = split_heads(v) if static_v is None else _static("static_v", static_v, heads, head_dim)
    if add_zero_attn:
        k = np.concatenate([k, np.zeros((heads, 1, head_dim))], axis=1)
        v = np.concatenate([v, np.zeros((heads, 1, head_dim))], axis=1)
        mask = None if mask is None else np.pad(mask, [(0, 0), (0, 0), (0, 1)])
        kpm = None if kpm is None else np.pad(kpm, [(0, 0), (0, 1)])
    source_length = k.shape[1]
    if kpm is not None:
        if kpm.shape != (batch, source_length):
            raise ValueError(
                f"Expected key_padded_mask of shape {(batch, source_length)}, but got "
                f"{kpm.shape}"
            )
        padding = np.repeat(kpm[:, None, :], num_heads, axis=0).reshape(heads, 1, source_length)
        mask = padding if mask is None else mask + padding

    def merge_heads(x: np.ndarray) -> np.ndarray:  # (N H, L, d) -> (L, N, E) -> out_proj
        merged = x.transpose(1, 0, 2).reshape(target_length * batch, embed_dim)
        out = _linear(merged, out_proj_weight, out_proj_bias)
        return out.reshape(target_length, batch, np.shape(out_proj_weight)[0])

    if need_weights:
        if is_causal and mask is None:
            raise ValueError("is_causal is not implemented for need_weights without attn_mask")
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(0, 2, 1)
        if mask is not None:
            scores = scores + mask
        with np.errstate(invalid="ignore"):
            weights = softmax(scores, dim=-1)
        output = merge_heads(weights @ v)
        weights = weights.reshape(batch, num_heads, target_length, source_length)
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            output, weights = output[:, 0], weights[0]
        return output.astype(out_dtype), weights.astype(out_dtype)
    if mask is not None:
        if mask.shape[0] == 1 and mask.ndim == 3:
            mask = mask[None]
        else:
            # torch's view(N, H, -1, S): refused for an empty mask, where -1 is ambiguous
            try:
                mask = mask.reshape(batch, num_heads, -1, source_length)
            except ValueError:
                raise ValueError(
                    f"cannot reshape tensor of 0 elements into shape [{batch}, {num_heads}, -1, "
                    f"{source_length}] because the unspecified dimension size -1 can be any "
                    "value and is ambiguous"
                ) from None

    def by_head(x: np.ndarray) -> np.ndarray:  # (N H, T, d) -> (N, H, T, d)
        return x.reshape(batch, num_heads, x.shape[1], head_dim)

    heads_out = scaled_dot_product_attention(
        by_head(q), by_head(k), by_head(v), mask, 0.0, is_causal
    )
    output = merge_heads(heads_out.reshape(heads, target_length, head_dim))
    if not batched:
        output = output[:, 0]
    return output.astype(out_dtype), None


def _static(name: str, x: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.shape[0] != heads or x.shape[2] != head_dim:
        raise ValueError(
            f"expecting {name} of shape ({heads}, S, {head_dim}), but got {x.shape}"
        )
    return x


def xavier_uniform_bound(shape: Sequence[int], gain: float = 1.0) -> float:
    r"""The bound $a$ of ``xavier_uniform_``'s $U(-a, a)$:
    $a = \text{gain}\cdot\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}$ with
    $\text{fan\_in} = \text{shape}_1 \cdot r$, $\text{fan\_out} = \text{shape}_0 \cdot r$ and
    $r$ the product of the dims after the first two."""
    receptive = math.prod(shape[2:])
    return gain * math.sqrt(6.0 / (shape[1] * receptive + shape[0] * receptive))


def xavier_normal_std(shape: Sequence[int], gain: float = 1.0) -> float:
    r"""The standard deviation of ``xavier_normal_``:
    $\text{gain}\cdot\sqrt{2 / (\text{fan\_in} + \text{fan\_out})}$."""
    receptive = math.prod(shape[2:])
    return gain * math.sqrt(2.0 / (shape[1] * receptive + shape[0] * receptive))


class MultiheadAttention:
    r"""``nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.

    Parameters, initialized as torch does (from the NumPy generator ``rng``):
    ``in_proj_weight`` $(3E, E)$ when ``kdim == vdim == embed_dim``, else ``q_proj_weight``
    $(E, E)$, ``k_proj_weight`` $(E, k_{dim})$, ``v_proj_weight`` $(E, v_{dim})$, each
    ``xavier_uniform_``; ``in_proj_bias`` $(3E,)$ and ``out_proj_bias`` $(E,)$ zeros;
    ``out_proj_weight`` $(E, E)$ from $U(-1/\sqrt E, 1/\sqrt E)$ (Linear's init);
    ``bias_k``, ``bias_v`` $(1, 1, E)$ ``xavier_normal_``. Calling it is the module's
    ``forward``: ``batch_first`` batched inputs are transposed to sequence-first and back,
    then `multi_head_attention_forward` runs (never the fast path).

    Raises:
        ValueError: ``embed_dim`` or ``num_heads`` not positive, or ``embed_dim`` not
            divisible by ``num_heads``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: type | np.dtype = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        rng = rng or np.random.default_rng()
        dtype = np.dtype(dtype)
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim = embed_dim // num_heads
        self.batch_first, self.add_zero_attn, self.training = batch_first, add_zero_attn, True
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim

        def uniform(shape: tuple[int, ...], bound: float) -> np.ndarray:
            return rng.uniform(-bound, bound, shape).astype(dtype)

        self.in_proj_weight = self.q_proj_weight = self.k_proj_weight = None
        self.v_proj_weight = None
        if self._qkv_same_embed_dim:
            shape = (3 * embed_dim, embed_dim)
            self.in_proj_weight = uniform(shape, xavier_uniform_bound(shape))
        else:
            for name, width in (("q", embed_dim), ("k", self.kdim), ("v", self.vdim)):
                shape = (embed_dim, width)
                setattr(self, f"{name}_proj_weight", uniform(shape, xavier_uniform_bound(shape)))
        self.in_proj_bias = np.zeros(3 * embed_dim, dtype) if bias else None
        self.out_proj_weight = uniform((embed_dim, embed_dim), 1.0 / math.sqrt(embed_dim))
        self.out_proj_bias = np.zeros(embed_dim, dtype) if bias else None
        self.bias_k = self.bias_v = None
        if add_bias_kv:
            std = xavier_normal_std((1, 1, embed_dim))
            self.bias_k = rng.normal(0.0, std, (1, 1, embed_dim)).astype(dtype)
            self.bias_v = rng.normal(0.0, std, (1, 1, embed_dim)).astype(dtype)

    def __call__(
        self,
        query: np.ndarray,
        key: np.ndarray,
        value: np.ndarray,
        key_padding_mask: ArrayOrNone = None,
        need_weights: bool = True,
        attn_mask: ArrayOrNone = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[np.ndarray, ArrayOrNone]:
        """The module's ``forward`` (the slow path)."""
        query, key, value = (np.asarray(x) for x in (query, key, value))
        swap = self.batch_first and query.ndim == 3
        if swap:
            query, key, value = (x.swapaxes(0, 1) for x in (query, key, value))
        output, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj_weight,
            self.out_proj_bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        return (output.swapaxes(0, 1) if swap else output), weights
