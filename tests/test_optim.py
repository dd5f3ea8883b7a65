"""OPTIM: the reference optimizers against torch.optim, step by step, in float64.

Parameters here are a tiny class with ``.data`` and ``.grad``, the interface the optimizers
need; gradient sequences are generated, so each step's update rule is checked in isolation.
Options are drawn only where the installed torch has them (feature detection), and every
implementation torch offers on the device (for-loop, foreach, fused) is held to the same rule.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from reference import autograd as ag
from reference import optim as ref
from reference.random import DEFAULT_CAPABILITIES
from tests.strategies import finite_arrays, shapes
from tests.support import (
    CPU_CAPABILITY,
    RELEASE,
    accepts,
    assert_both_raise,
    assert_matches,
    known_torch_bug,
    make_noncontiguous,
    to_numpy,
    torch_at_least,
)


def _fuses_weight_decay(device: str) -> bool:
    """Whether torch's ``grad.add(param, alpha=wd)`` is one fused multiply-add here (OPTIM-31)."""
    if torch.device(device).type != "cpu":
        return True
    return CPU_CAPABILITY not in DEFAULT_CAPABILITIES


@pytest.fixture(autouse=True)
def _weight_decay_rounding_of_this_kernel(request):
    """The reference rounds the L2 penalty as the kernel that runs for the test's device."""
    callspec = getattr(request.node, "callspec", None)
    device = callspec.params.get("device", "cpu") if callspec else "cpu"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ref, "FUSED_WEIGHT_DECAY", _fuses_weight_decay(device))
        yield


class Param:
    """A parameter as the optimizers see it: float64 ``data`` and a ``grad`` (or None)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.array(data, dtype=np.float64)
        self.grad: np.ndarray | None = None


def _unit(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


def _maybe_zero(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.one_of(st.just(0.0), strategy)


LR = _unit(1e-3, 1.0)
BETAS = st.tuples(_unit(0.0, 0.99), _unit(0.5, 0.999))
EPS = _unit(1e-10, 1e-3)
WD = _maybe_zero(_unit(1e-4, 0.1))


@st.composite
def sgd_kwargs(draw: st.DrawFn) -> dict:
    momentum = draw(_maybe_zero(_unit(0.1, 0.99)))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(_maybe_zero(_unit(0.0, 0.9)))
    return dict(lr=draw(LR), momentum=momentum, dampening=dampening,
                weight_decay=draw(WD), nesterov=nesterov, maximize=draw(st.booleans()))


def _dicts(torch_cls: type, **fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """Options for ``torch_cls``, each drawn only where the installed torch has it (the
    reference's default for a missing one is the behaviour of releases without it)."""
    return st.fixed_dictionaries({k: v for k, v in fields.items() if accepts(torch_cls, k)})


O = torch.optim
# name -> (torch class, reference class, kwargs strategy)
OPTIMIZERS = {
    "SGD": (O.SGD, ref.SGD, sgd_kwargs()),
    "Adam": (O.Adam, ref.Adam, _dicts(
        O.Adam, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, amsgrad=st.booleans(),
        maximize=st.booleans(), decoupled_weight_decay=st.booleans())),
    "AdamW": (O.AdamW, ref.AdamW, _dicts(O.AdamW,
        lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, amsgrad=st.booleans(),
        maximize=st.booleans())),
    "Adagrad": (O.Adagrad, ref.Adagrad, _dicts(
        O.Adagrad, lr=LR, lr_decay=_maybe_zero(_unit(1e-3, 1.0)), weight_decay=WD,
        initial_accumulator_value=_maybe_zero(_unit(1e-3, 1.0)), eps=EPS,
        maximize=st.booleans())),
    "Adadelta": (O.Adadelta, ref.Adadelta, _dicts(
        O.Adadelta, lr=LR, rho=_unit(0.0, 0.99), eps=_unit(1e-8, 1e-3), weight_decay=WD,
        maximize=st.booleans())),
    "Adamax": (O.Adamax, ref.Adamax, _dicts(
        O.Adamax, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, maximize=st.booleans())),
    "ASGD": (O.ASGD, ref.ASGD, _dicts(
        O.ASGD, lr=LR, lambd=_maybe_zero(_unit(1e-4, 0.5)), alpha=_unit(0.0, 1.0),
        t0=st.integers(0, 6).map(float), weight_decay=WD, maximize=st.booleans())),
    "RMSprop": (O.RMSprop, ref.RMSprop, _dicts(
        O.RMSprop, lr=LR, alpha=_unit(0.5, 0.99), eps=EPS, weight_decay=WD,
        momentum=_maybe_zero(_unit(0.1, 0.99)), centered=st.booleans(),
        maximize=st.booleans())),
    "Rprop": (O.Rprop, ref.Rprop, _dicts(
        O.Rprop, lr=LR, etas=st.tuples(_unit(0.1, 0.9), _unit(1.1, 3.0)),
        step_sizes=st.tuples(_unit(1e-6, 1e-2), _unit(0.1, 50.0)), maximize=st.booleans())),
    "NAdam": (O.NAdam, ref.NAdam, _dicts(
        O.NAdam, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD,
        momentum_decay=_maybe_zero(_unit(1e-3, 0.5)), decoupled_weight_decay=st.booleans(),
        maximize=st.booleans())),
    "RAdam": (O.RAdam, ref.RAdam, _dicts(
        O.RAdam, lr=LR, betas=st.tuples(_unit(0.0, 0.99), _unit(0.7, 0.99)), eps=EPS,
        weight_decay=WD, decoupled_weight_decay=st.booleans(), maximize=st.booleans())),
}
DENSE = sorted(OPTIMIZERS)

# torch's implementations of one update rule: the per-parameter loop, the multi-tensor
# (foreach) kernels, the CUDA default, and the fused kernels, where the device has them.
IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                   "fused": {"fused": True}}


@functools.cache
def implementations(name: str, device: str) -> tuple[str, ...]:
    """The implementations of optimizer ``name`` that the installed torch offers on
    ``device``: its signature has the flag and a float64 step with it runs there."""
    torch_cls = OPTIMIZERS[name][0]
    found = []
    for impl, flags in IMPLEMENTATIONS.items():
        if not all(accepts(torch_cls, flag) for flag in flags):
            continue
        p = torch.zeros(2, dtype=torch.float64, device=device, requires_grad=True)
        p.grad = torch.ones_like(p)
        try:
            torch_cls([p], **flags).step()
        except RuntimeError:  # e.g. "fused=True requires ... supported devices"
            continue
        found.append(impl)
    return tuple(found)


def _torch_param(data: np.ndarray, noncontiguous: bool, device: str = "cpu") -> torch.Tensor:
    tensor = torch.tensor(data, dtype=torch.float64, device=device)
    if noncontiguous:
        tensor = make_noncontiguous(tensor)
    return tensor.requires_grad_(True)


def _value(v):
    return to_numpy(v) if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)


def assert_same_state(topt: torch.optim.Optimizer, tparams, ropt: ref.Optimizer, rparams,
                      skip: frozenset = frozenset()) -> None:
    """Parameters equal, and each parameter's state has torch's keys with torch's values."""
    for tp, rp in zip(tparams, rparams, strict=True):
        assert_matches(tp, rp.data)
        tstate = {k: v for k, v in topt.state[tp].items() if k not in skip}
        rstate = ropt.state[rp] if rp in ropt.state else {}
        assert set(tstate) == set(rstate)
        for key, tv in tstate.items():
            if isinstance(tv, list):  # LBFGS histories
                assert len(tv) == len(rstate[key])
                for a, b in zip(tv, rstate[key], strict=True):
                    assert_matches(torch.as_tensor(_value(a)), _value(b))
            elif key == "step":  # a float64 tensor, float32 for fused, an int for SparseAdam
                assert_matches(torch.as_tensor(_value(tv)).double(), _value(rstate[key]))
            elif tv is not None:
                assert_matches(torch.as_tensor(_value(tv)), _value(rstate[key]))


@st.composite
def runs(draw: st.DrawFn, min_dims: int = 0, max_params: int = 2, max_steps: int = 5):
    """Initial values of 1-2 parameters and a gradient per step (None: no gradient)."""
    n = draw(st.integers(1, max_params))
    inits = [draw(finite_arrays(shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=3),
                                min_value=-10, max_value=10)) for _ in range(n)]
    steps = draw(st.integers(1, max_steps))
    grads = [[draw(st.one_of(st.none(), finite_arrays(a.shape, min_value=-10, max_value=10))
                   if k else finite_arrays(a.shape, min_value=-10, max_value=10))
              for k, a in enumerate(inits)] for _ in range(steps)]
    return inits, grads, draw(st.booleans())


def _set_grads(tparams, rparams, grads) -> None:
    for tp, rp, g in zip(tparams, rparams, grads, strict=True):
        tp.grad = None if g is None else torch.tensor(g, device=tp.device)
        rp.grad = None if g is None else g.copy()


def _build(name: str, inits, kwargs, noncontiguous: bool = False, device: str = "cpu",
           implementation: dict | None = None):
    torch_cls, ref_cls, _ = OPTIMIZERS[name]
    tparams = [_torch_param(a, noncontiguous, device) for a in inits]
    rparams = [Param(a) for a in inits]
    topt = torch_cls(tparams, **kwargs, **(implementation or {}))
    return tparams, topt, rparams, ref_cls(rparams, **kwargs)


@pytest.mark.spec("OPTIM-1", "OPTIM-2", "OPTIM-3", "OPTIM-4", "OPTIM-5", "OPTIM-6",
                  "OPTIM-7", "OPTIM-8", "OPTIM-9", "OPTIM-10", "OPTIM-11", "OPTIM-22")
@pytest.mark.parametrize("name", DENSE)
@given(data=st.data())
def test_update_rule_matches_torch(device, name, data):
    # float64 default: torch then keeps scalar state (step, ASGD's eta/mu, NAdam's
    # mu_product) in float64 instead of float32, so the comparison is exact to rounding
    torch.set_default_dtype(torch.float64)
    inits, grads, noncontiguous = data.draw(runs())
    kwargs = data.draw(OPTIMIZERS[name][2])
    impl = data.draw(st.sampled_from(implementations(name, device)), label="implementation")
    if impl == "fused" and device == "cpu":
        noncontiguous = False  # a torch bug: test_fused_cpu_kernels_on_noncontiguous_params
    if impl == "fused" and name == "SGD":  # a torch bug: test_fused_sgd_first_gradient_late
        grads = [[np.zeros_like(a) if g is None else g for g, a in zip(gs, inits, strict=True)]
                 for gs in grads]
    tparams, topt, rparams, ropt = _build(
        name, inits, kwargs, noncontiguous, device, IMPLEMENTATIONS[impl]
    )
    for step_grads in grads:
        _set_grads(tparams, rparams, step_grads)
        topt.step()
        ropt.step()
        assert_same_state(topt, tparams, ropt, rparams)


FUSED = [n for n in DENSE if accepts(OPTIMIZERS[n][0], "fused")]


@pytest.mark.spec("OPTIM-30")
@pytest.mark.parametrize("name", FUSED)
@known_torch_bug(
    fixed_in=None,
    issue="no upstream report found (searched pytorch/pytorch issues on 2026-12-02)",
    why="the fused CPU kernels treat a non-contiguous parameter as contiguous: they update "
    "its first numel storage elements, leaving its own elements stale and overwriting "
    "memory between them",
)
def test_fused_cpu_kernels_on_noncontiguous_params(name):
    buffer = torch.zeros(2, 2, dtype=torch.float64)
    param = buffer[:, 0].requires_grad_()  # stride 2: elements 0 and 2 of the storage
    param.grad = torch.ones(2, dtype=torch.float64)
    OPTIMIZERS[name][0]([param], lr=1.0, fused=True).step()
    rparam = Param(np.zeros(2))
    rparam.grad = np.ones(2)
    OPTIMIZERS[name][1]([rparam], lr=1.0).step()
    assert_matches(param, rparam.data)
    assert not buffer[:, 1].any(), "the fused step wrote outside the parameter"


@pytest.mark.spec("OPTIM-30")
@pytest.mark.skipif("SGD" not in FUSED, reason=f"torch {RELEASE}'s SGD has no fused option")
@known_torch_bug(
    fixed_in=None,
    issue="no upstream report found (searched pytorch/pytorch issues on 2026-12-02)",
    why="fused SGD with momentum raises TypeError when a parameter gets its first gradient "
    "after another parameter already has a momentum buffer (its None buffer reaches the "
    "kernel); checked on 2.4.1, 2.11, 2.13 and 2.14",
)
def test_fused_sgd_first_gradient_late():
    a, b = (torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in range(2))
    ra, rb = Param(np.zeros(())), Param(np.zeros(()))
    topt = torch.optim.SGD([a, b], lr=1.0, momentum=0.5, fused=True)
    ropt = ref.SGD([ra, rb], lr=1.0, momentum=0.5)
    for grads in ([np.ones(()), None], [np.ones(()), np.ones(())]):
        _set_grads([a, b], [ra, rb], grads)
        topt.step()
        ropt.step()
    assert_same_state(topt, [a, b], ropt, [ra, rb])


@pytest.mark.spec("OPTIM-9")
def test_radam_rectifies_once_rho_exceeds_5():
    # beta2 = 0.9: rho_t = 1, 1.95, 2.85, 3.7, 4.5, 5.27 for t = 1..6, so steps 1-5 are plain
    # momentum SGD and step 6 is the first rectified (adaptive) one
    torch.set_default_dtype(torch.float64)
    inits = [np.array([1.0, -2.0, 3.0])]
    grads = [[np.array([0.5, -1.0, 2.0]) * (k + 1)] for k in range(8)]
    kwargs = dict(lr=0.1, betas=(0.9, 0.9))
    tparams, topt, rparams, ropt = _build("RAdam", inits, kwargs)
    for k, step_grads in enumerate(grads):
        _set_grads(tparams, rparams, step_grads)
        before = rparams[0].data.copy()
        topt.step()
        ropt.step()
        assert_same_state(topt, tparams, ropt, rparams)
        m_hat = ropt.state[rparams[0]]["exp_avg"] / (1 - 0.9 ** (k + 1))
        plain = np.allclose(before - rparams[0].data, 0.1 * m_hat)
        assert plain == (k < 5)


@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
@pytest.mark.spec("OPTIM-12")
@given(data=st.data())
def test_sparse_adam_updates_only_rows_with_gradient(data):
    inits, grads, _ = data.draw(runs(min_dims=2, max_params=1))
    rows_of = st.lists(st.booleans(), min_size=inits[0].shape[0], max_size=inits[0].shape[0])
    kwargs = data.draw(_dicts(torch.optim.SparseAdam, lr=LR, betas=BETAS, eps=EPS,
                               maximize=st.booleans()))
    tp = torch.tensor(inits[0], requires_grad=True)
    rp = Param(inits[0])
    topt, ropt = torch.optim.SparseAdam([tp], **kwargs), ref.SparseAdam([rp], **kwargs)
    for (g,) in grads:
        g = np.zeros_like(inits[0]) if g is None else g * np.array(data.draw(rows_of)).reshape(
            (-1,) + (1,) * (g.ndim - 1))
        rows = np.flatnonzero(np.any(g.reshape(len(g), -1) != 0, axis=1))
        # torch's sparse gradient materializes exactly the rows that carry a gradient
        tp.grad = torch.sparse_coo_tensor(rows[None], torch.tensor(g[rows]), g.shape)
        rp.grad = g.copy()
        before = rp.data.copy()
        topt.step()
        ropt.step()
        assert_same_state(topt, [tp], ropt, [rp])
        untouched = np.setdiff1d(np.arange(len(g)), rows)
        np.testing.assert_array_equal(rp.data[untouched], before[untouched])


def _quadratic(draw: st.DrawFn, n: int):
    m = draw(finite_arrays((n, n), min_value=-1, max_value=1))
    return m.T @ m + np.eye(n), draw(finite_arrays((n,), min_value=-5, max_value=5))


@pytest.mark.spec("OPTIM-13")
@given(data=st.data())
def test_lbfgs_with_closure_matches_torch(data):
    torch.set_default_dtype(torch.float64)
    inits = [data.draw(finite_arrays(shapes(min_dims=1, max_dims=2, min_side=1, max_side=3),
                                     min_value=-5, max_value=5)) for _ in range(2)]
    sizes = [a.size for a in inits]
    a_mat, b = _quadratic(data.draw, sum(sizes))
    maximize = accepts(torch.optim.LBFGS, "maximize") and data.draw(st.booleans())
    sign = -1.0 if maximize else 1.0  # maximize -f: the same minimizer
    kwargs = dict(lr=data.draw(_unit(0.1, 1.0)), max_iter=data.draw(st.integers(1, 6)),
                  history_size=data.draw(st.integers(1, 4)))
    if maximize:  # LBFGS gained `maximize` after torch 2.4
        kwargs["maximize"] = True
    tparams = [torch.tensor(a, requires_grad=True) for a in inits]
    rparams = [Param(a) for a in inits]
    topt, ropt = torch.optim.LBFGS(tparams, **kwargs), ref.LBFGS(rparams, **kwargs)
    ta, tb = torch.tensor(a_mat), torch.tensor(b)

    def torch_closure():
        topt.zero_grad()
        x = torch.cat([p.reshape(-1) for p in tparams])
        loss = sign * (0.5 * x @ ta @ x + tb @ x)
        loss.backward()
        return loss

    def ref_closure():
        x = np.concatenate([p.data.reshape(-1) for p in rparams])
        grad = sign * (a_mat @ x + b)
        for p, piece in zip(rparams, np.split(grad, np.cumsum(sizes)[:-1]), strict=True):
            p.grad = piece.reshape(p.data.shape)
        return sign * (0.5 * x @ a_mat @ x + b @ x)

    for _ in range(data.draw(st.integers(1, 3))):
        tloss, rloss = topt.step(torch_closure), ropt.step(ref_closure)
        assert_matches(tloss.detach(), np.float64(rloss))
        # "al" is torch's scratch space for the two-loop recursion, not state
        assert_same_state(topt, tparams, ropt, rparams, skip=frozenset({"al"}))


@pytest.mark.spec("OPTIM-14")
@given(name=st.sampled_from(DENSE), data=st.data())
def test_param_groups_take_their_own_options(name, data):
    torch.set_default_dtype(torch.float64)
    inits, grads, _ = data.draw(runs(max_steps=4))
    strategy = OPTIMIZERS[name][2]
    defaults, overrides = data.draw(strategy), data.draw(strategy)
    overrides = {k: v for k, v in overrides.items() if data.draw(st.booleans())}
    torch_cls, ref_cls, _ = OPTIMIZERS[name]
    tparams = [torch.tensor(a, requires_grad=True) for a in inits]
    rparams = [Param(a) for a in inits]
    topt = torch_cls([{"params": tparams[:1]}, {"params": tparams[1:], **overrides}], **defaults)
    ropt = ref_cls([{"params": rparams[:1]}, {"params": rparams[1:], **overrides}], **defaults)
    for tg, rg in zip(topt.param_groups, ropt.param_groups, strict=True):
        shared = (set(tg) & set(rg)) - {"params"}
        assert {k: tg[k] for k in shared} == {k: rg[k] for k in shared}
        # the reference's other options are ones this torch release does not have yet
        assert not any(accepts(torch_cls, k) for k in set(rg) - set(tg) - {"params"})
    for step_grads in grads:
        _set_grads(tparams, rparams, step_grads)
        topt.step()
        ropt.step()
        assert_same_state(topt, tparams, ropt, rparams)


@pytest.mark.spec("OPTIM-14")
def test_notes_per_parameter_options():
    # notes 002: base with the default lr=1e-2, classifier with lr=1e-3, momentum 0.9 for both
    base, classifier = Param(np.ones(3)), Param(np.ones(2))
    opt = ref.SGD([{"params": [base]}, {"params": [classifier], "lr": 1e-3}],
                  lr=1e-2, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 1e-3]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    base.grad, classifier.grad = np.ones(3), np.ones(2)
    opt.step()
    np.testing.assert_allclose(base.data, 1 - 1e-2)
    np.testing.assert_allclose(classifier.data, 1 - 1e-3)


# Adagrad created its state in __init__ only, so a parameter added by add_param_group had
# none and the next step raised KeyError('sum'); the state is created lazily from 2.12.
ADAGRAD_ADD_PARAM_GROUP_FIX = "2.12"
ADAGRAD_ADD_PARAM_GROUP_BUG = dict(
    fixed_in=ADAGRAD_ADD_PARAM_GROUP_FIX,
    issue="pytorch/pytorch#53712",
    why="Adagrad.add_param_group leaves the new parameter without state: step() raises "
    "KeyError('sum')",
)
ADD_GROUP_NAMES = [
    n for n in DENSE if n != "Adagrad" or torch_at_least(ADAGRAD_ADD_PARAM_GROUP_FIX)
]


def _add_param_group_run(name, inits, grads, extra, kwargs, group_kwargs):
    tparams, topt, rparams, ropt = _build(name, inits, kwargs)
    for step_grads in grads:
        _set_grads(tparams, rparams, step_grads)
        topt.step()
        ropt.step()
    tparams.append(torch.tensor(extra, requires_grad=True))
    rparams.append(Param(extra))
    topt.add_param_group({"params": tparams[-1], **group_kwargs})
    ropt.add_param_group({"params": rparams[-1], **group_kwargs})
    for step_grads in grads:
        _set_grads(tparams, rparams, step_grads + [np.cos(extra)])
        topt.step()
        ropt.step()
        assert_same_state(topt, tparams, ropt, rparams)


@pytest.mark.spec("OPTIM-15")
@given(name=st.sampled_from(ADD_GROUP_NAMES), data=st.data())
def test_add_param_group_mid_run(name, data):
    torch.set_default_dtype(torch.float64)
    inits, grads, _ = data.draw(runs(max_params=1, max_steps=4))
    extra = data.draw(finite_arrays(shapes(min_side=1, max_side=3), min_value=-5, max_value=5))
    kwargs, group_kwargs = data.draw(OPTIMIZERS[name][2]), data.draw(OPTIMIZERS[name][2])
    _add_param_group_run(name, inits, grads, extra, kwargs, group_kwargs)


@pytest.mark.spec("OPTIM-15")
@known_torch_bug(**ADAGRAD_ADD_PARAM_GROUP_BUG)
def test_adagrad_add_param_group_mid_run():
    torch.set_default_dtype(torch.float64)
    grads = [[np.array([0.5, -1.0])], [np.array([2.0, 0.25])]]
    _add_param_group_run("Adagrad", [np.array([1.0, 2.0])], grads, np.array([3.0, -1.0, 0.5]),
                         dict(lr=0.1), dict(lr=0.5, initial_accumulator_value=0.2))


@pytest.mark.spec("OPTIM-15")
def test_add_param_group_rejects_duplicates_and_sets():
    t, r = torch.zeros(2, requires_grad=True), Param(np.zeros(2))
    topt, ropt = torch.optim.SGD([t], lr=0.1), ref.SGD([r], lr=0.1)
    assert_both_raise(lambda: topt.add_param_group({"params": [t]}),
                      lambda: ropt.add_param_group({"params": [r]}),
                      match="more than one parameter group")
    assert_both_raise(lambda: topt.add_param_group({"params": {torch.zeros(1)}}),
                      lambda: ropt.add_param_group({"params": {Param(np.zeros(1))}}),
                      torch_error=TypeError, reference_error=TypeError, match="ordered")


@pytest.mark.spec("OPTIM-16")
@given(set_to_none=st.booleans(), g=finite_arrays(shapes(min_side=1)))
def test_zero_grad_sets_none_or_zeros_in_place(set_to_none, g):
    t, r = torch.tensor(g, requires_grad=True), Param(g)
    t.grad, r.grad = torch.tensor(g), g.copy()
    tgrad, rgrad = t.grad, r.grad
    untouched = Param(g)  # no gradient: stays None either way
    torch.optim.SGD([t]).zero_grad(set_to_none=set_to_none)
    ref.SGD([r, untouched]).zero_grad(set_to_none=set_to_none)
    assert untouched.grad is None
    if set_to_none:
        assert t.grad is None and r.grad is None
    else:
        assert t.grad is tgrad and r.grad is rgrad  # zeroed in place, same buffer
        assert not t.grad.any() and not r.grad.any()


@pytest.mark.spec("OPTIM-17")
@given(x=finite_arrays((2, 3), min_value=-3, max_value=3),
       w=finite_arrays((3,), min_value=-3, max_value=3), lr=LR)
def test_skipping_zero_grad_accumulates(x, w, lr):
    # two backward passes without zero_grad: the step uses the sum of both gradients
    tw = torch.tensor(w, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=lr)
    for row in torch.tensor(x):
        (row @ tw).backward()
    assert_matches(tw.grad, x.sum(axis=0))
    topt.step()
    rw = Param(w)
    rw.grad = x[0] + x[1]
    ref.SGD([rw], lr=lr).step()
    assert_matches(tw, rw.data)
    # with zero_grad between the passes only the last gradient remains
    topt.zero_grad()
    (torch.tensor(x[0]) @ tw).backward()
    topt.zero_grad()
    (torch.tensor(x[1]) @ tw).backward()
    assert_matches(tw.grad, x[1])
    # the same with reference autograd tensors and the reference optimizer
    aw = ag.tensor(w, requires_grad=True)
    aopt = ref.SGD([aw], lr=lr)
    for row in x:
        (ag.tensor(row) @ aw).backward()
    aopt.step()
    assert_matches(tw.grad, x[1])
    assert_matches(torch.tensor(aw.grad), x.sum(axis=0))
    assert_matches(torch.tensor(aw.data), rw.data)
    aopt.zero_grad()
    assert aw.grad is None


@pytest.mark.spec("OPTIM-18")
@given(w=finite_arrays(shapes(min_side=1)), g=st.data(), lr=LR)
def test_notes_manual_update_equals_sgd(w, g, lr):
    grad = g.draw(finite_arrays(w.shape))
    manual = torch.tensor(w, requires_grad=True)
    manual.grad = torch.tensor(grad)
    manual.data.sub_(manual.grad.data * lr)  # notes 003: f.data.sub_(f.grad.data * lr)
    stepped = torch.tensor(w, requires_grad=True)
    stepped.grad = torch.tensor(grad)
    torch.optim.SGD([stepped], lr=lr).step()
    r = Param(w)
    r.grad = grad.copy()
    ref.SGD([r], lr=lr).step()
    assert_matches(stepped, to_numpy(manual))
    assert_matches(stepped, r.data)


@pytest.mark.spec("OPTIM-19")
def test_notes_pitfall_optimizer_on_old_network():
    # notes 001: net is rebuilt after the optimizer was made; training never moves it
    torch.manual_seed(0)
    old = torch.nn.Linear(3, 2, dtype=torch.float64)
    optimizer = torch.optim.SGD(old.parameters(), lr=0.5)
    net = torch.nn.Linear(3, 2, dtype=torch.float64)
    before_new = [p.detach().clone() for p in net.parameters()]
    before_old = [p.detach().clone() for p in old.parameters()]
    for _ in range(3):
        optimizer.zero_grad()
        net(torch.ones(4, 3, dtype=torch.float64)).pow(2).sum().backward()
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before_new, net.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(before_old, old.parameters(), strict=True))
    # the reference behaves the same: it only ever touches the parameters it was given
    old_r, new_r = Param(np.zeros(2)), Param(np.zeros(2))
    ropt = ref.SGD([old_r], lr=0.5)
    new_r.grad = np.ones(2)
    ropt.step()
    assert not new_r.data.any() and not old_r.data.any()


@pytest.mark.spec("OPTIM-31")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l2_weight_decay_is_rounded_as_torchs_kernel(device, dtype):
    """``g + wd p`` where ``g`` cancels ``wd p`` (``-1 + 0.1 * 10``): torch's result is the
    reference's, fused or not as this kernel is, on every implementation; an adaptive step
    then moves ``p`` by that residue over ``eps`` (the soak's RMSprop case, seed 2090190047)."""
    p, g = np.full(3, 10.0), np.full(3, -1.0)
    t = torch.tensor(g, dtype=dtype, device=device).add(
        torch.tensor(p, dtype=dtype, device=device), alpha=0.1)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    expected = ref.l2_penalty(g.astype(np_dtype), p.astype(np_dtype), 0.1)
    assert t.cpu().numpy().tolist() == expected.tolist()
    assert (expected[0] == 0) == (not _fuses_weight_decay(device))
    kwargs = dict(lr=1.0, alpha=0.5, eps=1e-10, weight_decay=0.1, momentum=0.5)
    for implementation in ({"foreach": False}, {"foreach": True}):
        tparam = torch.tensor(p, dtype=torch.float64, device=device, requires_grad=True)
        topt = torch.optim.RMSprop([tparam], **kwargs, **implementation)
        rparam = Param(p)
        ropt = ref.RMSprop([rparam], **kwargs)
        tparam.grad, rparam.grad = torch.tensor(g, device=device), g.copy()
        topt.step()
        ropt.step()
        assert_same_state(topt, [tparam], ropt, [rparam])


@pytest.mark.spec("OPTIM-20")
@given(name=st.sampled_from(DENSE), data=st.data())
def test_state_dict_round_trip_resumes_identically(name, data):
    torch.set_default_dtype(torch.float64)
    inits, grads, _ = data.draw(runs())
    split = data.draw(st.integers(0, len(grads)))
    kwargs = data.draw(OPTIMIZERS[name][2])
    tparams, topt, rparams, ropt = _build(name, inits, kwargs)
    for step_grads in grads[:split]:
        _set_grads(tparams, rparams, step_grads)
        topt.step()
        ropt.step()
    tsd, rsd = topt.state_dict(), ropt.state_dict()
    assert set(tsd["state"]) == set(rsd["state"])
    assert [g["params"] for g in tsd["param_groups"]] == [g["params"] for g in rsd["param_groups"]]
    saved = copy.deepcopy(rsd)
    # resume: a fresh optimizer on the same parameters, loaded from the snapshot
    resumed = OPTIMIZERS[name][1](rparams, **{**kwargs, "lr": 123.0})
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    for step_grads in grads[split:]:
        _set_grads(tparams, rparams, step_grads)
        topt.step()
        resumed.step()
        assert_same_state(topt, tparams, resumed, rparams)


@pytest.mark.spec("OPTIM-20")
def test_load_state_dict_rejects_mismatched_groups():
    t = [torch.zeros(1, requires_grad=True) for _ in range(2)]
    r = [Param(np.zeros(1)) for _ in range(2)]
    two_groups_t = torch.optim.SGD([{"params": t[:1]}, {"params": t[1:]}]).state_dict()
    two_groups_r = ref.SGD([{"params": r[:1]}, {"params": r[1:]}]).state_dict()
    assert_both_raise(lambda: torch.optim.SGD(t).load_state_dict(two_groups_t),
                      lambda: ref.SGD(r).load_state_dict(two_groups_r),
                      match="different number of parameter groups")
    one_t, one_r = torch.optim.SGD(t[:1]).state_dict(), ref.SGD(r[:1]).state_dict()
    assert_both_raise(lambda: torch.optim.SGD(t).load_state_dict(one_t),
                      lambda: ref.SGD(r).load_state_dict(one_r),
                      match="doesn't match the size")


@pytest.mark.spec("OPTIM-21")
@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        ("SGD", dict(lr=-0.1), "learning rate"),
        ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
        ("SGD", dict(lr=0.1, nesterov=True), "Nesterov"),
        ("Adam", dict(betas=(1.0, 0.999)), "beta parameter at index 0"),
        ("Adam", dict(betas=(0.9, 1.5)), "beta parameter at index 1"),
        ("Adam", dict(eps=-1.0), "epsilon"),
        ("Rprop", dict(etas=(1.5, 1.2)), "eta"),
        ("Adagrad", dict(lr_decay=-1.0), "lr_decay"),
    ],
)
def test_invalid_options_raise(cls, kwargs, match):
    assert_both_raise(lambda: getattr(torch.optim, cls)([torch.zeros(1)], **kwargs),
                      lambda: getattr(ref, cls)([Param(np.zeros(1))], **kwargs), match=match)


@pytest.mark.spec("OPTIM-21")
def test_empty_parameter_list_raises():
    assert_both_raise(lambda: torch.optim.SGD([], lr=0.1), lambda: ref.SGD([], lr=0.1),
                      match="empty parameter list")


@pytest.mark.spec("OPTIM-1")
@given(w=finite_arrays((3,)), g=finite_arrays((3,)))
@example(w=np.array([1.0, 2.0, 3.0]), g=np.array([0.5, -1.0, 2.0]))
def test_sgd_momentum_first_step_is_plain_sgd(w, g):
    # the buffer starts as the first gradient itself, not (1 - dampening) * g
    t, r = torch.tensor(w, requires_grad=True), Param(w)
    t.grad, r.grad = torch.tensor(g), g.copy()
    topt = torch.optim.SGD([t], lr=0.1, momentum=0.9, dampening=0.5)
    ropt = ref.SGD([r], lr=0.1, momentum=0.9, dampening=0.5)
    topt.step()
    ropt.step()
    for result in (t, torch.tensor(r.data)):
        assert_matches(result, w - 0.1 * g)
    ref_buffer = torch.tensor(ropt.state[r]["momentum_buffer"])
    for buffer in (topt.state[t]["momentum_buffer"], ref_buffer):
        assert_matches(buffer, g)
