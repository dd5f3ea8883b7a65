"""OPTIM (schedulers): the reference lr schedulers against torch.optim.lr_scheduler.

Each property builds the same scheduler, with generated settings, on a torch SGD and on the
reference SGD (two param groups with different rates) and compares every group's learning
rate (and momentum, for the cycling schedulers) after every epoch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from reference import optim as ref_optim
from reference import schedulers as ref_sched


class Param:
    def __init__(self, data: np.ndarray) -> None:
        self.data = np.array(data, dtype=np.float64)
        self.grad: np.ndarray | None = None


MODULES = {"torch": (torch.optim, torch.optim.lr_scheduler), "ref": (ref_optim, ref_sched)}
EPOCHS = st.integers(1, 30)


def _unit(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


def _optimizer(side: str, lrs: tuple[float, float], adam: bool = False):
    optim = MODULES[side][0]
    if side == "torch":
        params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    else:
        params = [Param(np.zeros(1)) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    return optim.Adam(groups) if adam else optim.SGD(groups, momentum=0.9)


def _linear_decay(end_epoch: int) -> Callable[[int], float]:
    # notes 002: liner_func = lambda epoch: max(0, 1 - (epoch / endepoch))
    return lambda epoch: max(0, 1 - (epoch / end_epoch))


GAMMA = _unit(0.05, 1.0)

# name -> strategy of keyword arguments (callables are built per side from plain data)
SIMPLE = {
    "StepLR": st.fixed_dictionaries({"step_size": st.integers(1, 10), "gamma": GAMMA}),
    "MultiStepLR": st.fixed_dictionaries({
        "milestones": st.lists(st.integers(1, 30), max_size=5), "gamma": GAMMA}),
    "ExponentialLR": st.fixed_dictionaries({"gamma": _unit(0.5, 1.0)}),
    "LambdaLR": st.fixed_dictionaries({
        "lr_lambda": st.one_of(st.integers(1, 20).map(_linear_decay),
                               st.tuples(st.integers(1, 20), st.integers(1, 20)).map(
                                   lambda ends: [_linear_decay(e) for e in ends]))}),
    "MultiplicativeLR": st.fixed_dictionaries({
        "lr_lambda": st.tuples(_unit(0.5, 1.0), _unit(0.5, 1.0)).map(
            lambda fs: [lambda e, f=f: f ** (e % 3) for f in fs])}),
    "CosineAnnealingLR": st.fixed_dictionaries({
        "T_max": st.integers(1, 15), "eta_min": st.one_of(st.just(0.0), _unit(1e-4, 1e-2))}),
    "CosineAnnealingWarmRestarts": st.fixed_dictionaries({
        "T_0": st.integers(1, 8), "T_mult": st.integers(1, 3),
        "eta_min": st.one_of(st.just(0.0), _unit(1e-4, 1e-2))}),
    "LinearLR": st.fixed_dictionaries({
        "start_factor": _unit(0.01, 1.0), "end_factor": _unit(0.0, 1.0),
        "total_iters": st.integers(1, 10)}),
    "ConstantLR": st.fixed_dictionaries({
        "factor": _unit(0.01, 1.0), "total_iters": st.integers(0, 10)}),
    "PolynomialLR": st.fixed_dictionaries({
        "total_iters": st.integers(1, 10), "power": _unit(0.5, 3.0)}),
}

CYCLIC = st.fixed_dictionaries({
    "base_lr": _unit(1e-4, 1e-2), "max_lr": _unit(0.02, 1.0),
    "step_size_up": st.integers(1, 10), "step_size_down": st.one_of(st.none(), st.integers(1, 10)),
    "mode": st.sampled_from(["triangular", "triangular2", "exp_range"]),
    "gamma": _unit(0.8, 1.0), "cycle_momentum": st.booleans(),
    "base_momentum": _unit(0.5, 0.85), "max_momentum": _unit(0.86, 0.99)})

ONE_CYCLE = st.fixed_dictionaries({
    "max_lr": st.one_of(_unit(0.01, 1.0), st.tuples(_unit(0.01, 1.0), _unit(0.01, 1.0)).map(list)),
    "total_steps": st.integers(2, 40), "pct_start": _unit(0.05, 0.95),
    "anneal_strategy": st.sampled_from(["cos", "linear"]), "cycle_momentum": st.booleans(),
    "div_factor": _unit(2.0, 50.0), "final_div_factor": _unit(10.0, 1e4),
    "three_phase": st.booleans()}).filter(lambda kw: not _one_cycle_has_an_empty_phase(**kw))


def _one_cycle_has_an_empty_phase(total_steps, pct_start, three_phase, **_) -> bool:
    """OneCycleLR divides by each phase's length: the first phase ends at step
    ``pct_start * total_steps - 1``, which is its start 0 when ``pct_start * total_steps`` is
    1; the three-phase schedule's last phase is empty when ``2 * pct_start * total_steps - 2``
    is ``total_steps - 1``. Such settings raise ZeroDivisionError (OPTIM-25)."""
    first_end = float(pct_start * total_steps) - 1
    return first_end == 0 or (three_phase and float(2 * pct_start * total_steps) - 2
                              == total_steps - 1)


def _momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _assert_close(actual: list[float], expected: list[float]) -> None:
    """Equal to rtol 1e-12; NumPy's assertion (and its message) only where a plain
    comparison does not already settle it, as it costs 50 times more, once per epoch."""
    if len(actual) == len(expected) and all(
            abs(a - e) <= 1e-12 * abs(e) for a, e in zip(actual, expected, strict=True)):
        return
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


def _assert_same(topt, tsched, ropt, rsched) -> None:
    _assert_close(rsched.get_last_lr(), tsched.get_last_lr())
    _assert_close([g["lr"] for g in ropt.param_groups], [g["lr"] for g in topt.param_groups])
    _assert_close(_momenta(ropt), _momenta(topt))


def _run(build: Callable, lrs, epochs: int, adam: bool = False, metrics=None) -> None:
    """Build on both sides, then per epoch: optimizer.step(), scheduler.step(); compare."""
    sides = {}
    for side in MODULES:
        opt = _optimizer(side, lrs, adam)
        sides[side] = (opt, build(MODULES[side][1], opt))
    (topt, tsched), (ropt, rsched) = sides["torch"], sides["ref"]
    _assert_same(topt, tsched, ropt, rsched)
    for epoch in range(epochs):
        args = () if metrics is None else (metrics[epoch],)
        topt.step()
        ropt.step()
        try:
            tsched.step(*args)
        except (ValueError, ZeroDivisionError) as error:  # e.g. OneCycleLR past total_steps
            with pytest.raises(type(error)):
                rsched.step(*args)
            return
        rsched.step(*args)
        _assert_same(topt, tsched, ropt, rsched)


LRS = st.tuples(_unit(1e-3, 1.0), _unit(1e-3, 1.0))


@pytest.mark.spec("OPTIM-22", "OPTIM-23", "OPTIM-24")
@pytest.mark.parametrize("name", sorted(SIMPLE))
@given(data=st.data(), lrs=LRS, epochs=EPOCHS)
def test_scheduler_matches_torch(name, data, lrs, epochs):
    kwargs = data.draw(SIMPLE[name])
    _run(lambda mod, opt: getattr(mod, name)(opt, **kwargs), lrs, epochs)


@pytest.mark.spec("OPTIM-25")
@given(kwargs=CYCLIC, lrs=LRS, epochs=EPOCHS, adam=st.booleans())
def test_cyclic_lr_matches_torch(kwargs, lrs, epochs, adam):
    _run(lambda mod, opt: mod.CyclicLR(opt, **kwargs), lrs, epochs, adam)


@pytest.mark.spec("OPTIM-25")
@given(kwargs=ONE_CYCLE, lrs=LRS, epochs=EPOCHS, adam=st.booleans())
@example(  # next to the empty first phase of pct_start * total_steps == 1 (a random-seed find)
    kwargs=dict(max_lr=0.5, total_steps=21, pct_start=0.05, anneal_strategy="cos",
                cycle_momentum=True, div_factor=25.0, final_div_factor=1e4, three_phase=False),
    lrs=(0.1, 0.2), epochs=21, adam=False,
)
def test_one_cycle_lr_matches_torch(kwargs, lrs, epochs, adam):
    _run(lambda mod, opt: mod.OneCycleLR(opt, **kwargs), lrs, epochs, adam)


@pytest.mark.spec("OPTIM-25")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(total_steps=20, pct_start=0.05),  # the first phase ends where it starts: step 0
        dict(total_steps=4, pct_start=0.25, three_phase=True),
        dict(total_steps=3, pct_start=2 / 3, three_phase=True),  # the last phase is empty
    ],
)
@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")  # no optimizer step here
def test_one_cycle_lr_with_an_empty_phase_raises(kwargs):
    assert _one_cycle_has_an_empty_phase(**{"three_phase": False, **kwargs})
    for side in MODULES:
        with pytest.raises(ZeroDivisionError):
            scheduler = MODULES[side][1].OneCycleLR(_optimizer(side, (0.1, 0.2)), 0.5, **kwargs)
            for _ in range(kwargs["total_steps"]):  # stepping up to total_steps is allowed
                scheduler.step()


@st.composite
def children(draw: st.DrawFn, min_size: int = 1):
    names = draw(st.lists(st.sampled_from(sorted(SIMPLE)), min_size=min_size, max_size=3))
    return [(n, draw(SIMPLE[n])) for n in names]


@pytest.mark.spec("OPTIM-26")
@given(kids=children(), lrs=LRS, epochs=EPOCHS, data=st.data())
def test_sequential_lr_matches_torch(kids, lrs, epochs, data):
    milestones = sorted(data.draw(st.lists(st.integers(1, 20), min_size=len(kids) - 1,
                                           max_size=len(kids) - 1, unique=True)))

    def build(mod, opt):
        return mod.SequentialLR(opt, [getattr(mod, n)(opt, **kw) for n, kw in kids], milestones)

    _run(build, lrs, epochs)


@pytest.mark.spec("OPTIM-26")
@given(kids=children(), lrs=LRS, epochs=EPOCHS)
def test_chained_scheduler_matches_torch(kids, lrs, epochs):
    def build(mod, opt):
        return mod.ChainedScheduler([getattr(mod, n)(opt, **kw) for n, kw in kids])

    _run(build, lrs, epochs)


@st.composite
def plateau_runs(draw: st.DrawFn):
    """Settings and a metric sequence: a random walk with repeats, so plateaus occur."""
    kwargs = draw(st.fixed_dictionaries({
        "mode": st.sampled_from(["min", "max"]), "factor": _unit(0.1, 0.9),
        "patience": st.integers(0, 4), "threshold": _unit(0.0, 0.1),
        "threshold_mode": st.sampled_from(["rel", "abs"]), "cooldown": st.integers(0, 3),
        "min_lr": st.one_of(st.just(0), _unit(1e-4, 1e-2),
                            st.tuples(_unit(0.0, 0.01), _unit(0.0, 0.01)).map(list)),
        "eps": st.sampled_from([1e-8, 1e-3])}))
    steps = draw(st.lists(st.sampled_from([0.0, 0.0, -1.0, 1.0, -0.01, 0.5]), min_size=1,
                          max_size=30))
    return kwargs, list(np.cumsum(steps) + 10.0)


@pytest.mark.spec("OPTIM-27")
@given(run=plateau_runs(), lrs=LRS)
def test_reduce_lr_on_plateau_matches_torch(run, lrs):
    kwargs, metrics = run
    _run(lambda mod, opt: mod.ReduceLROnPlateau(opt, **kwargs), lrs, len(metrics),
         metrics=metrics)


@pytest.mark.spec("OPTIM-27")
def test_reduce_lr_on_plateau_waits_patience_then_cooldown():
    for side in MODULES:
        opt = _optimizer(side, (1.0,))
        sched = MODULES[side][1].ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1)
        lrs = []
        for metric in [5, 4, 4, 4, 4, 4, 4, 4, 4]:
            sched.step(metric)
            lrs.append(opt.param_groups[0]["lr"])
        # epochs 3-5 do not improve on 4: the third bad epoch (> patience=2) halves the rate;
        # the cooldown epoch after a reduction does not count, so the next comes 4 epochs later
        assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


@pytest.mark.spec("OPTIM-22")
def test_notes_step_lr_example():
    # notes 002: lr = 0.05 if epoch < 30, 0.005 if 30 <= epoch < 60, 0.0005 if 60 <= epoch < 90
    for side in MODULES:
        opt = _optimizer(side, (0.05,))
        sched = MODULES[side][1].StepLR(opt, step_size=30, gamma=0.1)
        seen = []
        for _ in range(90):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        np.testing.assert_allclose(seen[:30], 0.05)
        np.testing.assert_allclose(seen[30:60], 0.005)
        np.testing.assert_allclose(seen[60:], 0.0005)


@pytest.mark.spec("OPTIM-23")
def test_notes_linear_decay_lambda():
    # notes 002: LambdaLR with max(0, 1 - epoch/endepoch), endepoch = 10: 1.0, 0.9, ..., 0, 0
    opt = ref_optim.SGD([Param(np.zeros(1))], lr=1.0)
    sched = ref_sched.LambdaLR(opt, _linear_decay(10))
    seen = []
    for _ in range(12):
        seen.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, [1 - e / 10 for e in range(11)] + [0.0], atol=1e-15)


@pytest.mark.spec("OPTIM-28")
@given(lr=_unit(1e-3, 1.0), gamma=_unit(0.5, 0.99), epochs=st.integers(1, 10))
def test_optimizer_step_then_scheduler_step(lr, gamma, epochs):
    # notes 002: optimizer.step() inside the epoch, scheduler.step() after it; epoch e's
    # updates then use lr * gamma**e, starting with the unscaled lr
    for side in MODULES:
        optim, sched_mod = MODULES[side]
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True) if side == "torch" \
            else Param(np.zeros(1))
        opt = optim.SGD([p], lr=lr)
        sched = sched_mod.ExponentialLR(opt, gamma=gamma)
        for epoch in range(epochs):
            before = float(p.data[0])
            p.grad = torch.ones(1, dtype=torch.float64) if side == "torch" else np.ones(1)
            opt.step()
            assert math.isclose(before - float(p.data[0]), lr * gamma**epoch, rel_tol=1e-9)
            sched.step()


@pytest.mark.spec("OPTIM-28")
def test_scheduler_step_before_optimizer_step_warns():
    for side in MODULES:
        opt = _optimizer(side, (0.1,))
        sched = MODULES[side][1].StepLR(opt, step_size=1)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()
        opt = _optimizer(side, (0.1,))
        sched = MODULES[side][1].StepLR(opt, step_size=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
            sched.step()


@pytest.mark.spec("OPTIM-22")
@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("ConstantLR", dict(factor=1.5), "factor"),
        ("LinearLR", dict(start_factor=0.0), "(?i)factor"),
        ("CosineAnnealingWarmRestarts", dict(T_0=0), "T_0"),
        ("ReduceLROnPlateau", dict(factor=1.0), "(?i)factor"),
        ("ReduceLROnPlateau", dict(mode="avg"), "mode"),
        ("LambdaLR", dict(lr_lambda=[lambda e: 1.0] * 3), "lr_lambda"),
        ("OneCycleLR", dict(max_lr=0.1), "total_steps"),
        ("SequentialLR", dict(schedulers=[], milestones=[]), "scheduler"),
    ],
)
def test_invalid_scheduler_settings_raise(name, kwargs, match):
    for side in MODULES:
        opt = _optimizer(side, (0.1, 0.2))
        with pytest.raises(ValueError, match=match):
            getattr(MODULES[side][1], name)(opt, **kwargs)
