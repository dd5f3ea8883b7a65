r"""RNG: torch's CPU random number generator from first principles (clauses RNG-*).

`torch.manual_seed(s)` seeds a 32-bit Mersenne Twister (`std::mt19937`, 624 words of state)
with $s \bmod 2^{32}$. Every CPU sampler turns the twister's 32-bit words $w_0, w_1, \dots$
into numbers with a fixed, documented-by-source rule:

* `rand`: one word per float32, $(w \mathbin{\&} (2^{24}-1)) \cdot 2^{-24}$; two words per
  float64, $(w_{64} \mathbin{\&} (2^{53}-1)) \cdot 2^{-53}$ with $w_{64} = 2^{32} w_k + w_{k+1}$.
* `randint(low, high)`: $\text{low} + w \bmod (\text{high} - \text{low})$, with a 64-bit
  $w_{64}$ once the range reaches $2^{32}$.
* `randperm(n)`: a forward Fisher-Yates shuffle, swap $i \leftrightarrow i + (w_i \bmod (n-i))$.
* `randn`/`normal`: Box-Muller, $r = \sqrt{-2 \ln(1-u_1)}$, $\theta = 2\pi u_2$, in blocks of
  16 for tensors of 16 or more elements and pairwise (caching the sine half) below that.

The generator's whole state is the 5056-byte `torch.get_rng_state()` (`Generator.get_state`).
Everything here is bit-exact against torch's CPU generator; CUDA uses a different generator
(Philox) and is not modelled. NumPy and the standard library only: this module is part of the
independent oracle and never imports torch. Transcendental functions go through the C
library (`math`, and `ctypes` for the float versions), as torch's do: NumPy's own SIMD `log`
differs from it in the last bit for some inputs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import threading
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

DEFAULT_SEED = 67280421310721
"""The seed of a fresh `torch.Generator()` (`c10::detail::default_rng_seed_val`)."""

STATE_SIZE = 5056
"""Bytes in `torch.get_rng_state()`: the layout of [`STATE_DTYPE`][reference.random.STATE_DTYPE]."""

MT_N, MT_M = 624, 397
RANDINT_WIDE_FROM = 2**28
"""`randint` draws a 64-bit word per element once `high - low` reaches this, whatever the
dtype (torch 2.11 and later; torch 2.4 did so only for int64 results and from 2**32 on)."""

RANDPERM_SMALL_N = (2**32 - 1) // 20
"""`randperm(n)` shuffles with 32-bit words below this n (214748364); torch switches to a
64-bit inside-out shuffle from there, which the reference does not model."""

_U32, _U64 = np.uint32, np.uint64
_MATRIX_A = _U32(0x9908B0DF)
_UPPER, _LOWER = _U32(0x80000000), _U32(0x7FFFFFFF)

STATE_DTYPE = np.dtype(
    {
        "names": [
            "the_initial_seed",
            "left",
            "seeded",
            "next",
            "state",
            "normal_x",
            "normal_y",
            "normal_rho",
            "normal_is_valid",
            "next_float_normal_sample",
            "is_next_float_normal_sample_valid",
        ],
        "formats": ["u8", "i4", "i4", "u8", ("u8", MT_N), "f8", "f8", "f8", "i4", "f4", "u1"],
        "offsets": [0, 8, 12, 16, 24, 5016, 5024, 5032, 5040, 5048, 5052],
        "itemsize": STATE_SIZE,
    }
)
"""`CPUGeneratorImplState` as torch `memcpy`s it (native byte order): the seed, the twister's
`left`/`seeded`/`next` counters, its 624 words (each widened to 64 bits), the cached
Box-Muller sine `normal_y` with its flag, and a float cache the CPU samplers never fill.
`normal_x` and `normal_rho` are always written as 0; padding bytes are 0."""

_FLOAT_DIGITS = {"float16": 11, "float32": 24, "float64": 53}
_INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
# torch.backends.cpu.get_cpu_capability() on x86-64: vectorised kernels, compiled with FMA
# contraction, or the plain C++ DEFAULT kernels, which round each product and sum.
AVX2_CAPABILITIES = ("AVX2", "AVX512")
DEFAULT_CAPABILITIES = ("DEFAULT", "NO AVX")
# MKL's MCG31m1 generator: x_{k+1} = a x_k mod (2^31 - 1).
_MCG31_A, _MCG31_M = 1132489760, 2**31 - 1


# --- the Mersenne Twister ----------------------------------------------------------------


_SEEDER = np.random.RandomState(0)  # reseeded under a lock: cheaper than a new one per seed
_SEEDER_LOCK = threading.Lock()


def _init_genrand(seed: int) -> np.ndarray:
    r"""The 624-word state `std::mt19937(seed)` starts from (Matsumoto and Nishimura's
    `init_genrand`: $x_0 = s$, $x_j = 1812433253 \cdot (x_{j-1} \oplus (x_{j-1} \gg 30)) + j
    \bmod 2^{32}$). NumPy's `RandomState` seeds its MT19937 the same way."""
    with _SEEDER_LOCK:
        _SEEDER.seed(seed & 0xFFFFFFFF)
        return _SEEDER.get_state()[1].astype(_U32)


def _mix(x: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    y = (upper & _UPPER) | (lower & _LOWER)
    return x ^ (y >> _U32(1)) ^ ((y & _U32(1)) * _MATRIX_A)


def _twist(key: np.ndarray) -> np.ndarray:
    r"""The next 624 words of state: $x_i \leftarrow x_{i+397} \oplus (y \gg 1) \oplus
    (y_0 \cdot \text{0x9908B0DF})$ with $y$ the top bit of $x_i$ and the low 31 bits of
    $x_{i+1}$ (indices mod 624). Element $i \ge 227$ reads $x_{i-227}$ already replaced, so the
    update runs in four vectorized slices, each reading only finished words."""
    x = key.copy()
    x[0:227] = _mix(x[397:624], x[0:227], x[1:228])
    x[227:454] = _mix(x[0:227], x[227:454], x[228:455])
    x[454:623] = _mix(x[227:396], x[454:623], x[455:624])
    x[623:624] = _mix(x[396:397], x[623:624], x[0:1])
    return x


def _temper(y: np.ndarray) -> np.ndarray:
    """The output transform of one state word (mt19937's tempering)."""
    y = y ^ (y >> _U32(11))
    y = y ^ ((y << _U32(7)) & _U32(0x9D2C5680))
    y = y ^ ((y << _U32(15)) & _U32(0xEFC60000))
    return y ^ (y >> _U32(18))


# --- exact floating-point helpers ----------------------------------------------------------


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)  # s + e == a + b exactly


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ca, cb = 134217729.0 * a, 134217729.0 * b  # Veltkamp split into 26-bit halves
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl  # p + e == a * b exactly


def _round_to_odd(s: np.ndarray, err: np.ndarray) -> np.ndarray:
    """The float64 next to `s` with an odd last bit when `s + err` is inexact: rounding to
    odd, after which one more rounding to fewer bits is as good as rounding once."""
    even = (s.view(np.int64) & 1) == 0
    toward = np.where(err > 0, np.inf, -np.inf)
    return np.where((err != 0) & even, np.nextafter(s, toward), s)


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray, dtype: str = "float64") -> np.ndarray:
    r"""The fused multiply-add $\operatorname{round}(a b + c)$, one rounding, as the FMA
    instruction computes it (and as compilers contract `a * b + c` in torch's AVX2 kernels).

    float32: $ab$ is exact in float64, the sum is rounded to odd and then to float32. float64:
    $ab = p + e$ exactly (Dekker), $c + p = t_h + t_l$ exactly, and
    $\operatorname{round}(t_h + \operatorname{round_{odd}}(t_l + e))$ (Boldo and Melquiond),
    $t_h$ itself when the correction is zero, so that $(-1) \cdot 0 + (-0)$ stays $-0$.
    Where $|ab| < 2^{-969}$ the error $e$ underflows; there the exact rational is rounded.
    """
    if dtype == "float32":
        p = np.asarray(a, np.float32).astype(np.float64) * np.asarray(b, np.float32)
        s, err = _two_sum(p, np.asarray(c, np.float32).astype(np.float64))
        return _round_to_odd(s, err).astype(np.float32)
    a, b, c = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c)))
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    correction = _round_to_odd(*_two_sum(tl, ul))
    fused = np.array(np.where(correction == 0, th, th + correction))  # -0 + +0 loses a -0
    # below 2^-969 the product's rounding error underflows, so p + e is not a b: exactly then
    tiny = (np.abs(uh) < 2.0**-969) & (a != 0) & (b != 0) & np.isfinite(c)
    flat = fused.reshape(-1)  # a view of the fresh array
    for i in np.flatnonzero(tiny):
        # a nonzero product plus c: an exact 0 is +0 (round to nearest); float() of a Fraction
        # is correctly rounded, subnormals included
        exact = Fraction(float(a.flat[i])) * Fraction(float(b.flat[i])) + Fraction(float(c.flat[i]))
        flat[i] = float(exact)
    return fused


def _libm(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The C library's double-precision `name`, elementwise (Python's `math` calls it)."""
    ufunc = np.frompyfunc(getattr(math, name), 1, 1)
    return lambda x: ufunc(np.asarray(x, np.float64)).astype(np.float64)


def _libm_float(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The C library's single-precision `name` + "f" (`logf`, `cosf`, `sinf`) elementwise,
    which torch's scalar float32 kernel calls; where no C math library can be loaded, the
    double function rounded to float32 (equal in all but rare last-bit cases)."""
    path = ctypes.util.find_library("m")
    try:
        function = getattr(ctypes.CDLL(path), name + "f")
    except (OSError, AttributeError, TypeError):
        double = _libm(name)
        return lambda x: double(x).astype(np.float32)
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    ufunc = np.frompyfunc(lambda v: function(float(v)), 1, 1)
    return lambda x: ufunc(np.asarray(x, np.float32)).astype(np.float32)


_LOG, _LOG1P, _COS, _SIN = (_libm(n) for n in ("log", "log1p", "cos", "sin"))
_LOGF, _COSF, _SINF = (_libm_float(n) for n in ("log", "cos", "sin"))


# --- torch's AVX2 log and sincos (Cephes polynomials, avx_mathfun.h) ------------------------

_F = np.float32
_LOG_P = tuple(
    _F(v)
    for v in (
        7.0376836292e-2,
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    )
)
_LOG_Q1, _LOG_Q2, _SQRTHF = _F(-2.12194440e-4), _F(0.693359375), _F(0.707106781186547524)
_DP = (_F(-0.78515625), _F(-2.4187564849853515625e-4), _F(-3.77489497744594108e-8))
_SINCOF = (_F(-1.9515295891e-4), _F(8.3321608736e-3), _F(-1.6666654611e-1))
_COSCOF = (_F(2.443315711809948e-5), _F(-1.388731625493765e-3), _F(4.166664568298827e-2))
_FOPI = _F(1.27323954473516)  # 4 / pi


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return fma(a, b, c, "float32")


def _avx2_log(x: np.ndarray) -> np.ndarray:
    r"""torch's vectorized float32 natural log (`log256_ps`): split $x = m \cdot 2^e$ with
    $m \in [\sqrt{1/2}, \sqrt 2)$, then $\ln x = e \ln 2 + f + f^3 P(f) - f^2/2$ with
    $f = m - 1$ and Cephes' degree-8 $P$. Every multiply feeding an add is fused, as GCC
    contracts the intrinsics in torch's AVX2 build; for $x > 0$ only."""
    bits = x.astype(np.float32).view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(np.float32) + _F(1)
    m = ((bits & np.int32(~0x7F800000)) | np.int32(0x3F000000)).view(np.float32)  # [0.5, 1)
    small = m < _SQRTHF
    f = (m - _F(1)) + np.where(small, m, _F(0))
    e = e - np.where(small, _F(1), _F(0))
    z = f * f
    y = np.full_like(f, _LOG_P[0])
    for coefficient in _LOG_P[1:]:
        y = _fma32(y, f, coefficient)
    y = _fma32(y * f, z, e * _LOG_Q1)
    y = _fma32(-z, _F(0.5), y)
    return _fma32(e, _LOG_Q2, f + y)


def _avx2_sincos(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""torch's vectorized float32 sine and cosine (`sincos256_ps`): $j$ = the even integer
    nearest $4|x|/\pi$ (rounded up from odd), $x' = |x| - j \pi/4$ in three exactly
    representable parts, then Cephes' sine and cosine polynomials on $x'$, swapped and signed
    by the octant $j \bmod 8$. Multiplies feeding adds are fused, as in torch's build."""
    x = x.astype(np.float32)
    sign_sin = x.view(np.int32) & np.int32(-0x80000000)
    x = np.abs(x)
    j = (np.trunc(x * _FOPI).astype(np.int32) + 1) & ~1
    y = j.astype(np.float32)
    for part in _DP:
        x = _fma32(y, part, x)
    sign_sin = sign_sin ^ ((j & 4) << 29)
    sign_cos = (~(j - 2) & 4) << 29
    use_sine_poly = (j & 2) == 0
    z = x * x
    cos_poly = _fma32(_fma32(_COSCOF[0], z, _COSCOF[1]), z, _COSCOF[2]) * z
    cos_poly = _fma32(cos_poly, z, -(z * _F(0.5))) + _F(1)
    sin_poly = _fma32(_fma32(_SINCOF[0], z, _SINCOF[1]), z, _SINCOF[2]) * z
    sin_poly = _fma32(sin_poly, x, x)
    sine = np.where(use_sine_poly, sin_poly, cos_poly)
    cosine = np.where(use_sine_poly, cos_poly, sin_poly)
    return (sine.view(np.int32) ^ sign_sin).view(np.float32), (
        cosine.view(np.int32) ^ sign_cos
    ).view(np.float32)


# --- Box-Muller kernels ----------------------------------------------------------------------


def _blocks_avx2(u: np.ndarray, mean: float, std: float) -> np.ndarray:
    """normal_fill_16_AVX2 over float32 blocks of 16 (rows of `u`)."""
    radius = np.sqrt(_F(-2) * _avx2_log(_F(1) - u[:, :8]))
    sine, cosine = _avx2_sincos(_F(2.0 * math.pi) * u[:, 8:])
    m, s = _F(mean), _F(std)
    return np.hstack([_fma32(radius * cosine, s, m), _fma32(radius * sine, s, m)])


def _blocks_scalar(u: np.ndarray, mean: float, std: float) -> np.ndarray:
    """normal_fill_16 over blocks of 16 in the dtype of `u` with the C library's functions
    (`logf`/`cosf`/`sinf` for float32, `log`/`cos`/`sin` for float64); the angle is
    $2\\pi u_2$ computed in double, and $z \\sigma + \\mu$ is fused."""
    dtype = u.dtype.name
    u1, u2 = u.dtype.type(1) - u[:, :8], u[:, 8:]
    theta = ((2.0 * math.pi) * u2.astype(np.float64)).astype(u.dtype)
    if dtype == "float32":
        log, cos, sin = _LOGF, _COSF, _SINF
    else:
        log, cos, sin = _LOG, _COS, _SIN
    radius = np.sqrt(u.dtype.type(-2) * log(u1))
    m, s = u.dtype.type(mean), u.dtype.type(std)
    return np.hstack([fma(radius * cos(theta), s, m, dtype), fma(radius * sin(theta), s, m, dtype)])


def _shape(size: int | Sequence[int]) -> tuple[int, ...]:
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"size must be a tuple of ints, got {size!r}")
    if any(s < 0 for s in shape):
        raise ValueError(f"Trying to create tensor with negative dimension: {list(shape)}")
    return tuple(int(s) for s in shape)


def _check_dtype(dtype: str, allowed: Sequence[str], op: str) -> str:
    if dtype not in allowed:
        raise TypeError(f"{op} is not implemented for dtype {dtype!r} (supported: {allowed})")
    return dtype


# --- the generator ---------------------------------------------------------------------------


class Generator:
    """torch's CPU generator (`torch.Generator()`, and the global one behind
    `torch.manual_seed`): a Mersenne Twister plus the cached second half of a Box-Muller pair.

    Methods mirror torch's samplers with the generator passed implicitly; sizes are tuples
    and results NumPy arrays of torch's dtype. Drawing advances the state exactly as torch does,
    so `get_state()` equals `torch.get_rng_state()` byte for byte after the same calls.
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.manual_seed(seed)

    # state ------------------------------------------------------------------------------

    def manual_seed(self, seed: int) -> Generator:
        """Seed like `torch.Generator.manual_seed`: seeds in $[-2^{63}, 2^{64})$, negative ones
        read as unsigned 64-bit; the twister starts from `init_genrand(seed mod 2**32)`, so
        seeds that differ by a multiple of $2^{32}$ give the same stream. Clears the normal
        cache."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        if not -(2**63) <= seed < 2**64:
            raise ValueError(
                f"Overflow when unpacking long: seed {seed} is outside [-2**63, 2**64)"
            )
        self._seed = int(seed) % 2**64
        self._key = _init_genrand(self._seed)
        self._left, self._next = 1, 0
        self._next_double: float | None = None
        self._next_float: float | None = None
        return self

    def initial_seed(self) -> int:
        """The seed given to `manual_seed`, as an unsigned 64-bit int."""
        return self._seed

    def get_state(self) -> np.ndarray:
        """The 5056-byte state, equal to `torch.get_rng_state().numpy()` (layout
        [`STATE_DTYPE`][reference.random.STATE_DTYPE])."""
        record = np.zeros((), STATE_DTYPE)
        record["the_initial_seed"] = self._seed
        record["left"], record["seeded"], record["next"] = self._left, 1, self._next
        record["state"] = self._key
        if self._next_double is not None:
            record["normal_y"], record["normal_is_valid"] = self._next_double, 1
        if self._next_float is not None:
            record["next_float_normal_sample"] = self._next_float
            record["is_next_float_normal_sample_valid"] = 1
        return np.frombuffer(record.tobytes(), np.uint8).copy()

    def set_state(self, new_state: np.ndarray) -> Generator:
        """Restore a state from `get_state()` or `torch.get_rng_state()`.

        Raises:
            TypeError: if the state is not an array of uint8.
            ValueError: if it is not 5056 bytes, or is not a valid twister state (`seeded`
                must be set, $1 \\le$ `left` $\\le 624$, `next` $\\le 624$, and `next + left`
                $\\le 625$ so that no draw reads past the 624 words).
        """
        state = np.asarray(new_state)
        if state.dtype != np.uint8:
            raise TypeError(
                f"RNG state must be an array of uint8 (a ByteTensor), got {state.dtype}"
            )
        if state.size != STATE_SIZE:
            raise ValueError(
                f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the input RNG "
                f"state size to be {state.size}"
            )
        record = np.frombuffer(np.ascontiguousarray(state).tobytes(), STATE_DTYPE)[0]
        left, seeded = int(record["left"]), int(record["seeded"])
        nxt = int(record["next"]) & 0xFFFFFFFF  # torch keeps the low 32 bits
        if not (seeded and 1 <= left <= MT_N and nxt <= MT_N and nxt + left <= MT_N + 1):
            raise ValueError(f"Invalid mt19937 state: seeded={seeded}, left={left}, next={nxt}")
        self._seed = int(record["the_initial_seed"])
        self._key = record["state"].astype(_U32)
        self._left, self._next = left, nxt
        self._next_double = float(record["normal_y"]) if record["normal_is_valid"] else None
        valid_float = record["is_next_float_normal_sample_valid"]
        self._next_float = float(record["next_float_normal_sample"]) if valid_float else None
        return self

    # raw words --------------------------------------------------------------------------

    def random(self, count: int) -> np.ndarray:
        """The next `count` 32-bit words (torch's `random()`), as uint32.

        A draw decrements `left` and twists the state when it reaches 0, then returns the
        tempered word `next` and increments `next`: so `left - 1` words are ready before the
        next twist, and a twist makes all 624 ready."""
        chunks = []
        while count > 0:
            if self._left == 1:
                self._key = _twist(self._key)
                self._left, self._next = MT_N + 1, 0
            take = min(count, self._left - 1)
            chunks.append(self._key[self._next : self._next + take])
            self._next += take
            self._left -= take
            count -= take
        return _temper(np.concatenate(chunks)) if chunks else np.empty(0, _U32)

    def random64(self, count: int) -> np.ndarray:
        """The next `count` 64-bit words (torch's `random64()`): $2^{32} w_{2k} + w_{2k+1}$,
        the first word high."""
        words = self.random(2 * count).astype(_U64)
        return (words[0::2] << _U64(32)) | words[1::2]

    def _uniform(self, count: int, dtype: str) -> np.ndarray:
        """`uniform_real_distribution<dtype>(0, 1)`: the low `digits` bits of one word (two for
        float64) over $2^{\\text{digits}}$."""
        digits = _FLOAT_DIGITS[dtype]
        words = self.random64(count) if dtype == "float64" else self.random(count)
        return ((words & (2**digits - 1)) * 2.0**-digits).astype(dtype)

    # samplers ---------------------------------------------------------------------------

    def rand(
        self, size: int | Sequence[int], dtype: str = "float32", *, half_bits: int = 24
    ) -> np.ndarray:
        r"""`torch.rand(size, dtype=dtype)`: uniform on $[0, 1)$, one word per element
        (two for float64) in memory order.

        float32: $(w \mathbin{\&} (2^{24}-1)) / 2^{24}$. float64:
        $(w_{64} \mathbin{\&} (2^{53}-1)) / 2^{53}$. float16 with `half_bits=24` (torch 2.13
        and later): the float32 value rounded to half, 1.0 (which rounding can reach) replaced
        by 0; with `half_bits=11` (torch 2.4 to 2.11): $(w \mathbin{\&} (2^{11}-1)) / 2^{11}$.
        """
        shape = _shape(size)
        _check_dtype(dtype, tuple(_FLOAT_DIGITS), "rand")
        if half_bits not in (11, 24):
            raise ValueError(f"half_bits is 24 (torch >= 2.13) or 11 (earlier), got {half_bits}")
        n = math.prod(shape)
        if dtype == "float16" and half_bits == 11:
            return self._uniform(n, "float16").reshape(shape)
        if dtype == "float16":
            half = self._uniform(n, "float32").astype(np.float16)
            return np.where(half == 1, np.float16(0), half).reshape(shape)
        return self._uniform(n, dtype).reshape(shape)

    def randint(
        self,
        low: int,
        high: int | Sequence[int] | None = None,
        size: Sequence[int] | None = None,
        dtype: str = "int64",
        *,
        legacy: bool = False,
    ) -> np.ndarray:
        r"""`torch.randint(low, high, size, dtype=dtype)` (or `randint(high, size)`, low 0):
        $\text{low} + (w \bmod r)$ with $r = \text{high} - \text{low}$ and $w$ one 32-bit word
        when $r < 2^{28}$, one 64-bit word (two words) otherwise; never `high`. With
        `legacy=True`, torch 2.4's rule: 64-bit words only for int64 results with
        $r \ge 2^{32}$. Integer dtypes only.

        Raises:
            ValueError: if `high <= low`, or `low`/`high - 1` do not fit an integer dtype.
        """
        if size is None:  # the randint(high, size) overload
            low, high, size = 0, low, high
        shape = _shape(size)
        _check_dtype(dtype, _INT_DTYPES, "randint")
        if not all(isinstance(v, (int, np.integer)) for v in (low, high)):
            raise TypeError(f"randint takes int bounds, got low={low!r}, high={high!r}")
        low, high = int(low), int(high)
        if not all(-(2**63) <= v < 2**63 for v in (low, high)):
            raise ValueError(
                f"Overflow when unpacking long: randint({low}, {high}) takes int64 bounds"
            )
        if high <= low:
            raise ValueError(
                f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
            )
        info = np.iinfo(dtype)
        if low < info.min:
            raise ValueError(f"from is out of bounds for {dtype}: {low}")
        if high - 1 > info.max:
            raise ValueError(f"to - 1 is out of bounds for {dtype}: {high - 1}")
        span = high - low
        n = math.prod(shape)
        if legacy:
            wide = dtype == "int64" and span >= 2**32
        else:
            wide = span >= RANDINT_WIDE_FROM
        words = self.random64(n) if wide else self.random(n).astype(_U64)
        values = ((words % _U64(span)) + _U64(low % 2**64)).view(np.int64)  # wraps like C++
        return values.astype(dtype).reshape(shape)

    def randperm(self, n: int, dtype: str = "int64") -> np.ndarray:
        r"""`torch.randperm(n, dtype=dtype)`: the forward Fisher-Yates shuffle of
        $0, \dots, n-1$: for $i = 0, \dots, n-2$ swap entries $i$ and $j_i = i + (w_i \bmod
        (n - i))$, $n - 1$ words in all.

        The swaps are sequential, but their result has a closed form, computed here without a
        Python loop: the value that lands at $i$ is the one at $j_i$ just before step $i$,
        which is $j_i$ itself unless an earlier step $k$ swapped into $j_i$; then it is the
        value at $k$ before step $k$, found the same way. Following these links by pointer
        doubling takes $O(\log n)$ vectorized rounds.

        Raises:
            ValueError: if $n < 0$, if $n - 1$ does not fit an integer dtype, or if
                $n \ge$ `RANDPERM_SMALL_N` (torch's 64-bit variant, not modelled).
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"randperm takes an int n, got {n!r}")
        _check_dtype(dtype, (*_INT_DTYPES, *_FLOAT_DIGITS), "randperm")
        if n < 0:
            raise ValueError(f"Trying to create tensor with negative dimension {n}: [{n}]")
        largest = np.iinfo(dtype).max if dtype in _INT_DTYPES else np.finfo(dtype).max
        if n - 1 > largest:
            raise ValueError(f"value {n - 1} cannot be converted to type {dtype} without overflow")
        if n >= RANDPERM_SMALL_N:
            raise ValueError(
                f"randperm({n}): torch shuffles n >= {RANDPERM_SMALL_N} with 64-bit words "
                "(an inside-out Fisher-Yates), which the reference does not model"
            )
        n = int(n)
        if n <= 1:
            return np.arange(n).astype(dtype)
        steps = np.arange(n - 1, dtype=np.int64)
        targets = steps + self.random(n - 1).astype(np.int64) % (n - steps)
        return _forward_shuffle(targets).astype(dtype)

    def random_(self, size: int | Sequence[int], dtype: str = "int64") -> np.ndarray:
        r"""`torch.empty(size, dtype=dtype).random_()`: integers uniform over
        $[0, 2^{\text{mantissa}}]$ for floats and $[0, \text{max}]$ for integers: a 64-bit word
        for int64 ($w_{64} \bmod 2^{63}$) and float64 ($w_{64} \bmod (2^{53}+1)$), else a 32-bit
        word: $w \bmod (\text{max}+1)$ (int32/16/8, uint8), $w \bmod (2^{24}+1)$ (float32),
        $w \bmod (2^{11}+1)$ (float16), $w \mathbin{\&} 1$ (bool). `random_(from, to)` is
        [`randint`][reference.random.Generator.randint].
        """
        shape = _shape(size)
        _check_dtype(dtype, (*_INT_DTYPES, *_FLOAT_DIGITS, "bool"), "random_")
        n = math.prod(shape)
        if dtype in ("int64", "float64"):
            words = self.random64(n)
        else:
            words = self.random(n).astype(_U64)
        if dtype == "bool":
            return (words & _U64(1)).astype(bool).reshape(shape)
        if dtype in _FLOAT_DIGITS:
            modulus = 2 ** _FLOAT_DIGITS[dtype] + 1
        else:
            modulus = int(np.iinfo(dtype).max) + 1
        return (words % _U64(modulus)).astype(dtype).reshape(shape)

    def normal(
        self,
        mean: float,
        std: float,
        size: int | Sequence[int],
        dtype: str = "float32",
        *,
        cpu_capability: str = "AVX2",
    ) -> np.ndarray:
        r"""`torch.normal(mean, std, size, dtype=dtype)`: Box-Muller,
        $\mu + \sigma r \cos\theta$ and $\mu + \sigma r \sin\theta$.

        Under 16 elements, pairs in double: $u_1, u_2$ 53-bit uniforms,
        $r = \sqrt{-2\,\operatorname{log1p}(-u_2)}$, $\theta = 2\pi u_1$; an element takes
        $r\cos\theta$ and leaves $r\sin\theta$ in the generator's cache for the next one (also
        across calls). With 16 or more, torch first fills all $n$ uniforms, then transforms
        blocks of 16, pairing $j$ with $j+8$: $u_1 = 1 - u_j$, $u_2 = u_{j+8}$,
        $r = \sqrt{-2 \ln u_1}$, $\theta = 2\pi u_2$, cosines in the first half, sines in the
        second; when $16 \nmid n$ it recomputes the last 16 elements from 16 fresh uniforms
        ($n + 16$ uniforms). The cache is untouched there.

        `cpu_capability` is `torch.backends.cpu.get_cpu_capability()`: with "AVX2" or
        "AVX512", float32 blocks use torch's vectorized Cephes log and sincos and every
        $z\sigma + \mu$ is fused; with "DEFAULT" (or "NO AVX"), float32 blocks call the C
        library's `logf`/`cosf`/`sinf` and the pairwise path rounds $z\sigma$ and $+\mu$
        separately.

        Raises:
            ValueError: if `std < 0` or `cpu_capability` is not one of those four.
        """
        shape = _shape(size)
        _check_dtype(dtype, ("float32", "float64"), "normal")
        if not std >= 0:
            raise ValueError(f"normal expects std >= 0.0, but found std {std}")
        if cpu_capability not in (*AVX2_CAPABILITIES, *DEFAULT_CAPABILITIES):
            raise ValueError(
                f"cpu_capability {cpu_capability!r} is not modelled; use one of "
                f"{(*AVX2_CAPABILITIES, *DEFAULT_CAPABILITIES)}"
            )
        avx2 = cpu_capability in AVX2_CAPABILITIES
        n = math.prod(shape)
        if n < 16:
            z = self._standard_normal_pairs(n)
            if avx2:
                values = fma(z, np.full(n, float(std)), np.full(n, float(mean)))
            else:
                values = z * float(std) + float(mean)
            return values.astype(dtype).reshape(shape)
        kernel = _blocks_avx2 if avx2 and dtype == "float32" else _blocks_scalar
        out = self._uniform(n, dtype)
        full = n - n % 16
        out[:full] = kernel(out[:full].reshape(-1, 16), mean, std).reshape(-1)
        if full < n:
            out[n - 16 :] = kernel(self._uniform(16, dtype).reshape(1, 16), mean, std)[0]
        return out.reshape(shape)

    def randn(
        self, size: int | Sequence[int], dtype: str = "float32", *, cpu_capability: str = "AVX2"
    ) -> np.ndarray:
        """`torch.randn(size, dtype=dtype)`: [`normal`][reference.random.Generator.normal]
        with mean 0 and std 1."""
        return self.normal(0.0, 1.0, size, dtype, cpu_capability=cpu_capability)

    def _standard_normal_pairs(self, n: int) -> np.ndarray:
        r"""`n` draws of `normal_distribution<double>`: the cached sine first if there is one,
        then fresh pairs $(r\cos\theta, r\sin\theta)$; a sine left over is cached."""
        if n == 0:
            return np.empty(0)
        cached = [] if self._next_double is None else [self._next_double]
        self._next_double = None
        pairs = (n - len(cached) + 1) // 2
        u = self._uniform(2 * pairs, "float64")
        radius = np.sqrt(-2.0 * _LOG1P(-u[1::2]))
        theta = 2.0 * math.pi * u[0::2]
        fresh = np.empty(2 * pairs)
        fresh[0::2], fresh[1::2] = radius * _COS(theta), radius * _SIN(theta)
        z = np.concatenate([np.asarray(cached, np.float64), fresh])
        if len(z) > n:
            self._next_double = float(z[n])
        return z[:n]

    def bernoulli(self, p: np.ndarray) -> np.ndarray:
        r"""`torch.bernoulli(p)`: 1 where $u < p$, in p's dtype, one uniform per element of
        p's precision ($u$ a 24-bit float for float32 p, a 53-bit double for float64 p).

        Raises:
            ValueError: if some $p \notin [0, 1]$.
        """
        p = np.asarray(p)
        dtype = _check_dtype(p.dtype.name, ("float32", "float64"), "bernoulli")
        if not ((p >= 0) & (p <= 1)).all():
            raise ValueError("Expected p_in >= 0 && p_in <= 1 to be true")
        u = self._uniform(p.size, dtype).reshape(p.shape)
        return (u < p).astype(dtype)

    def bernoulli_(
        self,
        size: int | Sequence[int],
        p: float = 0.5,
        dtype: str = "float32",
        *,
        mkl: bool = False,
    ) -> np.ndarray:
        r"""`torch.empty(size, dtype=dtype).bernoulli_(p)`, one of two kernels.

        Default: 1 where $u < p$, $u$ a 53-bit double per element. `mkl=True` (torch's MKL
        path): one 32-bit word $w$ (none for an empty tensor) seeds MKL's MCG31 generator,
        $x_0 = w \bmod (2^{31}-1)$ (1 if that is 0), $x_k = a^k x_0 \bmod (2^{31}-1)$ with
        $a = 1132489760$, and element $k$ is 1 where
        $\operatorname{float32}(x_k / (2^{31}-1)) < p$.

        Raises:
            ValueError: if $p \notin [0, 1]$.
        """
        shape = _shape(size)
        _check_dtype(dtype, (*_INT_DTYPES, "float32", "float64", "bool"), "bernoulli_")
        if not 0 <= p <= 1:
            raise ValueError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        n = math.prod(shape)
        if not mkl:
            return (self._uniform(n, "float64") < p).astype(dtype).reshape(shape)
        if n == 0:  # torch returns before drawing the seed
            return np.zeros(shape, dtype)
        x0 = int(self.random(1)[0]) % _MCG31_M or 1
        x = _powmod(_MCG31_A, np.arange(n, dtype=np.int64), _MCG31_M) * _U64(x0) % _U64(_MCG31_M)
        u = (x / _MCG31_M).astype(np.float32)
        return (u < p).astype(dtype).reshape(shape)


def _powmod(base: int, exponents: np.ndarray, modulus: int) -> np.ndarray:
    """$\\text{base}^{e} \\bmod m$ for every $e$, by squaring ($m < 2^{32}$, so products fit)."""
    e = exponents.astype(_U64)
    result = np.ones_like(e)
    square, m = _U64(base % modulus), _U64(modulus)
    for bit in range(max(int(e.max(initial=0)).bit_length(), 1)):
        result = np.where((e >> _U64(bit)) & _U64(1), result * square % m, result)
        square = square * square % m
    return result


def _forward_shuffle(targets: np.ndarray) -> np.ndarray:
    """The array left by swapping entries $i \\leftrightarrow j_i$ for $i = 0, 1, \\dots$ in
    turn, starting from $0, \\dots, n-1$ ($j_i \\ge i$, $n$ = len(targets) + 1).

    Position $q$ changes before step $t$ only at steps $k < t$ with $j_k = q$, where it
    receives the value at $k$ before step $k$. So with `pred(q, t)` the last such $k$:
    the value at $k$ before step $k$ is `term(k)`, following $k \\to$ `pred(k, k)` until there
    is none; the final entry $i$ is $j_i$ if `pred(j_i, i)` is none, else `term(pred(j_i, i))`
    (entry $n-1$ as if $j_{n-1} = n-1$)."""
    n = len(targets) + 1
    if n == 1:
        return np.zeros(1, np.int64)
    keys = np.sort(targets * n + np.arange(n - 1))  # (target, step), sorted

    def pred(q: np.ndarray, t: np.ndarray) -> np.ndarray:
        at = np.searchsorted(keys, q * n + t) - 1
        candidate = keys[np.maximum(at, 0)]
        return np.where((at >= 0) & (candidate // n == q), candidate % n, -1)

    positions = np.arange(n, dtype=np.int64)
    links = pred(positions, positions)
    term = np.where(links >= 0, links, positions)
    while True:  # pointer doubling: O(log n) rounds
        doubled = term[term]
        if np.array_equal(doubled, term):
            break
        term = doubled
    q = np.append(targets, n - 1)
    last = pred(q, positions)
    return np.where(last >= 0, term[np.maximum(last, 0)], q)


def dataloader_epoch_orders(seed: int, n: int, epochs: int) -> list[list[int]]:
    r"""The index order of each epoch of `DataLoader(range(n), shuffle=True)` (no generator)
    after `torch.manual_seed(seed)`.

    Each epoch (`iter(loader)`) draws the workers' base seed, one int64 (two words), from the
    global generator; the `RandomSampler` then draws its own seed
    $s = w_{64} \bmod 2^{63}$ the same way, and the order is `randperm(n)` on
    `Generator(s)`. So an epoch advances the global generator by four words, whatever $n$."""
    if n <= 0:
        raise ValueError(f"num_samples should be a positive integer value, but got num_samples={n}")
    global_generator = Generator(seed)
    orders = []
    for _ in range(epochs):
        global_generator.random_((), "int64")  # _BaseDataLoaderIter's base seed
        sampler_seed = int(global_generator.random_((), "int64"))
        orders.append(Generator(sampler_seed).randperm(n).tolist())
    return orders
