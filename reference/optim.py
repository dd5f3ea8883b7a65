"""Optimizers: the update rules of ``torch.optim`` on NumPy parameters.

A parameter is any object with ``.data`` (a float ``np.ndarray``, updated in place) and
``.grad`` (an ``np.ndarray`` of the same shape, or ``None``), such as the reference autograd
``Tensor``. Each optimizer keeps ``param_groups`` (a list of dicts: ``"params"`` plus the
options, defaults filled in) and per-parameter ``state`` with torch's keys, so a
``state_dict`` reads like torch's. Implementation switches of torch (``foreach``,
``fused``, ``capturable``, ``differentiable``) are not mirrored: they do not change the rule.

Every rule below is applied to each parameter ``p`` whose ``.grad`` is not ``None``, with
``g = -p.grad`` when ``maximize`` else ``p.grad``, and ``t`` the parameter's step count
after it is incremented. The L2 weight decay ``g + wd p`` is rounded once, as torch's kernels
compute it (`l2_penalty`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from reference.random import fma

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SparseAdam",
]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_common(lr: float, eps: float | None = None, betas: tuple | None = None) -> None:
    _check(lr >= 0.0, f"Invalid learning rate: {lr}")
    if eps is not None:
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
    if betas is not None:
        for i, beta in enumerate(betas):
            _check(0.0 <= beta < 1.0, f"Invalid beta parameter at index {i}: {beta}")


class _ParamState:
    """``optimizer.state[p]``: a dict per parameter, keyed by the parameter's identity
    (parameters need not be hashable), created empty on first access like torch's
    ``defaultdict(dict)``."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Any, dict[str, Any]]] = {}

    def __getitem__(self, param: Any) -> dict[str, Any]:
        if id(param) not in self._entries:
            self._entries[id(param)] = (param, {})
        return self._entries[id(param)][1]

    def __contains__(self, param: Any) -> bool:
        return id(param) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[Any, dict[str, Any]]]:
        return list(self._entries.values())


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

    Args:
        params: parameters, or dicts each with ``"params"`` and per-group options.
        defaults: the options a group takes when it does not set them.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if hasattr(params, "data") and hasattr(params, "grad"):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {type(params).__name__}"
            )
        self.defaults = defaults
        self.state = _ParamState()
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group; options it does not set are taken from ``defaults``.

        Raises:
            TypeError: ``param_group`` is not a dict, or its params are a set.
            ValueError: a parameter is already in another group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        param_group["params"] = [params] if hasattr(params, "data") else list(params)
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None``, or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad[...] = 0

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: state}, "param_groups": [group with params as indices]}``.

        Parameters are numbered in group order; the state is returned by reference, as in
        torch (copy it to keep a snapshot).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take a (deep-copied) state and group options, matching parameters by position.

        Raises:
            ValueError: the number of groups or of parameters in a group differs.
        """
        saved = copy.deepcopy(state_dict)
        if len(saved["param_groups"]) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            len(s["params"]) != len(g["params"])
            for s, g in zip(saved["param_groups"], self.param_groups, strict=True)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                "of optimizer's group"
            )
        by_index = {}
        for s, g in zip(saved["param_groups"], self.param_groups, strict=True):
            by_index.update(zip(s["params"], g["params"], strict=True))
        self.state = _ParamState()
        for i, param_state in saved["state"].items():
            self.state[by_index[i]].update(param_state)
        for s, g in zip(saved["param_groups"], self.param_groups, strict=True):
            s["params"] = g["params"]
        self.param_groups = saved["param_groups"]

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    grad = np.asarray(p.grad, dtype=p.data.dtype)
                    self._update(p, -grad if group.get("maximize") else grad, group)
        return loss

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        """Apply the rule to one parameter (``grad`` already negated under maximize)."""
        raise NotImplementedError

    @staticmethod
    def _count(state: dict[str, Any]) -> float:
        """Increment and return ``state["step"]`` (a float, as torch's step tensor)."""
        state["step"] = state.get("step", 0.0) + 1.0
        return state["step"]


# torch's ``grad.add(param, alpha=weight_decay)`` is one fused multiply-add in its AVX2 and
# AVX-512 CPU kernels (plain, foreach and fused optimizers alike) and on CUDA; False models a
# CPU build dispatching to its DEFAULT kernels (two roundings).
FUSED_WEIGHT_DECAY = True


def l2_penalty(grad: np.ndarray, param: np.ndarray, weight_decay: float) -> np.ndarray:
    """``g + wd p`` rounded once in the parameter's dtype (a fused multiply-add) when
    `FUSED_WEIGHT_DECAY`, else the product and the sum each rounded. It matters where
    ``g`` cancels ``wd p``: ``-1 + 0.1 * 10`` is ``2^-54`` fused (0.1 is not exact), ``0``
    otherwise, and an adaptive optimizer divides that by ``sqrt(v) + eps``."""
    if not FUSED_WEIGHT_DECAY:
        return grad + weight_decay * param
    dtype = "float32" if param.dtype == np.float32 else "float64"
    return fma(np.asarray(weight_decay), param, grad, dtype).astype(param.dtype)


def _adam_weight_decay(p: Any, grad: np.ndarray, group: dict) -> np.ndarray:
    """The Adam family's weight decay: L2, ``g + wd p``, or with ``decoupled_weight_decay``
    (AdamW) the decay applied to the parameter, ``p *= 1 - lr wd``, leaving ``g`` as it is."""
    wd = group["weight_decay"]
    if wd == 0:
        return grad
    if group["decoupled_weight_decay"]:
        p.data *= 1 - group["lr"] * wd
        return grad
    return l2_penalty(grad, p.data, wd)


def _adam_moments(
    state: dict[str, Any], grad: np.ndarray, beta1: float, beta2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Update in place and return $m \\leftarrow \\beta_1 m + (1-\\beta_1) g$ and
    $v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2$ (``exp_avg``, ``exp_avg_sq``)."""
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m += (1 - beta1) * (grad - m)
    v *= beta2
    v += (1 - beta2) * grad * grad
    return m, v


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

    $g \\leftarrow g + \\lambda p$; with momentum $\\mu$: $b_1 = g$,
    $b_t = \\mu b_{t-1} + (1-\\tau) g$, then $g \\leftarrow g + \\mu b_t$ (nesterov) or
    $g \\leftarrow b_t$; finally $p \\leftarrow p - \\gamma g$.
    State: ``momentum_buffer`` (only when ``momentum != 0``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr)
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(
            not nesterov or (momentum > 0 and dampening == 0),
            "Nesterov momentum requires a momentum and zero dampening",
        )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:  # without momentum SGD keeps no state at all
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad


class Adam(Optimizer):
    """Adam, and AdamW with ``decoupled_weight_decay=True``.

    Weight decay: $g \\leftarrow g + \\lambda p$ (coupled) or $p \\leftarrow p(1-\\gamma\\lambda)$
    (decoupled). $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g$,
    $v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g^2$, $\\hat v = \\max(\\hat v, v_t)$ with amsgrad
    (else $\\hat v = v_t$), and
    $p \\leftarrow p - \\frac{\\gamma}{1-\\beta_1^t}
    \\frac{m_t}{\\sqrt{\\hat v}/\\sqrt{1-\\beta_2^t} + \\epsilon}$.
    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (+ ``max_exp_avg_sq``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_common(lr, eps, betas)
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        t = self._count(state)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        grad = _adam_weight_decay(p, grad, group)
        m, v = _adam_moments(state, grad, beta1, beta2)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
        p.data -= lr / (1 - beta1**t) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay $p \\leftarrow p(1-\\gamma\\lambda)$ (default
    ``weight_decay=1e-2``) applied before the Adam step, instead of adding $\\lambda p$ to $g$."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


class Adagrad(Optimizer):
    """Adagrad: $g \\leftarrow g + \\lambda p$, $\\tilde\\gamma = \\gamma / (1 + (t-1)\\eta)$,
    $s_t = s_{t-1} + g^2$ (from ``initial_accumulator_value``),
    $p \\leftarrow p - \\tilde\\gamma\\, g / (\\sqrt{s_t} + \\epsilon)$.
    State: ``step``, ``sum``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps)
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        # torch creates the state eagerly, from the optimizer-wide default
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(step=0.0, sum=np.full_like(p.data, initial_accumulator_value))

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:  # a parameter added later by add_param_group
            state["sum"] = np.full_like(p.data, self.defaults["initial_accumulator_value"])
        t = self._count(state)
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p.data -= clr * grad / (np.sqrt(state["sum"]) + group["eps"])


class Adadelta(Optimizer):
    """Adadelta: $v_t = \\rho v_{t-1} + (1-\\rho) g^2$,
    $\\Delta = \\sqrt{u_{t-1}+\\epsilon}/\\sqrt{v_t+\\epsilon}\\, g$,
    $u_t = \\rho u_{t-1} + (1-\\rho)\\Delta^2$, $p \\leftarrow p - \\gamma\\Delta$.
    State: ``step``, ``square_avg`` ($v$), ``acc_delta`` ($u$).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps)
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["square_avg"] = np.zeros_like(p.data)
            state["acc_delta"] = np.zeros_like(p.data)
        self._count(state)
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * grad * grad
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * grad
        u *= rho
        u += (1 - rho) * delta * delta
        p.data -= group["lr"] * delta


class Adamax(Optimizer):
    """Adamax: $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g$,
    $u_t = \\max(\\beta_2 u_{t-1}, |g| + \\epsilon)$,
    $p \\leftarrow p - \\frac{\\gamma}{1-\\beta_1^t} m_t / u_t$.
    State: ``step``, ``exp_avg``, ``exp_inf``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps, betas)
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_inf"] = np.zeros_like(p.data)
        t = self._count(state)
        beta1, beta2 = group["betas"]
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        m, u = state["exp_avg"], state["exp_inf"]
        m += (1 - beta1) * (grad - m)
        np.maximum(u * beta2, np.abs(grad) + group["eps"], out=u)
        p.data -= group["lr"] / (1 - beta1**t) * m / u


class ASGD(Optimizer):
    """Averaged SGD: $p \\leftarrow p(1-\\lambda\\eta_t) - \\eta_t g$; the average
    $a \\leftarrow p$ while $\\mu_t = 1$, else $a \\leftarrow a + \\mu_t(p - a)$; then
    $\\eta_{t+1} = \\gamma / (1 + \\lambda\\gamma t)^{\\alpha}$, $\\mu_{t+1} = 1/\\max(1, t - t_0)$.
    State: ``step``, ``eta`` (starts at ``lr``), ``mu`` (starts at 1), ``ax``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr)
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state.update(eta=float(group["lr"]), mu=1.0, ax=np.zeros_like(p.data))
        t = self._count(state)
        lr, lambd = group["lr"], group["lambd"]
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        eta = state["eta"]
        p.data *= 1 - lambd * eta
        p.data -= eta * grad
        if state["mu"] != 1:
            state["ax"] += state["mu"] * (p.data - state["ax"])
        else:
            state["ax"][...] = p.data
        state["eta"] = lr / (1 + lambd * lr * t) ** group["alpha"]
        state["mu"] = 1 / max(1, t - group["t0"])


class RMSprop(Optimizer):
    """RMSprop: $v_t = \\alpha v_{t-1} + (1-\\alpha) g^2$; centered: $\\bar g_t = \\alpha
    \\bar g_{t-1} + (1-\\alpha) g$ and $d = \\sqrt{v_t - \\bar g_t^2} + \\epsilon$, else
    $d = \\sqrt{v_t} + \\epsilon$; with momentum $b_t = \\mu b_{t-1} + g/d$,
    $p \\leftarrow p - \\gamma b_t$, else $p \\leftarrow p - \\gamma g/d$.
    State: ``step``, ``square_avg`` (+ ``momentum_buffer``, ``grad_avg``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps)
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        self._count(state)
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grad = l2_penalty(grad, p.data, group["weight_decay"])
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * grad * grad
        if group["centered"]:
            state["grad_avg"] += (1 - alpha) * (grad - state["grad_avg"])
            avg = np.sqrt(v - state["grad_avg"] ** 2) + group["eps"]
        else:
            avg = np.sqrt(v) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * grad / avg


class Rprop(Optimizer):
    """Resilient backprop: per element, $s = \\operatorname{sign}(g\\, g_{prev})$; the step
    size is multiplied by $\\eta_+$ ($s>0$), $\\eta_-$ ($s<0$) or 1, and clipped to
    ``step_sizes``; where $s<0$ the gradient is taken as 0; $p \\leftarrow p -
    \\operatorname{sign}(g)\\,\\text{step}$ and $g_{prev} \\leftarrow g$.
    State: ``step``, ``prev``, ``step_size`` (starts at ``lr``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr)
        _check(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["prev"] = np.zeros_like(p.data)
            state["step_size"] = np.full_like(p.data, group["lr"])
        self._count(state)
        (etaminus, etaplus), (lo, hi) = group["etas"], group["step_sizes"]
        sign = np.sign(grad * state["prev"])
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
        np.clip(state["step_size"] * factor, lo, hi, out=state["step_size"])
        grad = np.where(sign < 0, 0.0, grad)
        p.data -= np.sign(grad) * state["step_size"]
        state["prev"][...] = grad


class NAdam(Optimizer):
    """NAdam: $\\mu_t = \\beta_1(1 - \\tfrac12 0.96^{t\\psi})$, $\\Pi_t = \\prod_{i\\le t}\\mu_i$
    (``mu_product``), $m_t$ and $v_t$ as in Adam, $d = \\sqrt{v_t/(1-\\beta_2^t)} + \\epsilon$,
    $p \\leftarrow p - \\gamma\\frac{1-\\mu_t}{1-\\Pi_t}\\frac{g}{d}
    - \\gamma\\frac{\\mu_{t+1}}{1-\\Pi_t\\mu_{t+1}}\\frac{m_t}{d}$.
    Weight decay as in Adam (``decoupled_weight_decay`` for the AdamW form).
    State: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps, betas)
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state.update(mu_product=1.0, exp_avg=np.zeros_like(p.data),
                         exp_avg_sq=np.zeros_like(p.data))
        t = self._count(state)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        psi = group["momentum_decay"]
        grad = _adam_weight_decay(p, grad, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        m, v = _adam_moments(state, grad, beta1, beta2)
        denom = np.sqrt(v / (1 - beta2**t)) + group["eps"]
        prod = state["mu_product"]
        p.data -= lr * (1 - mu) / (1 - prod) * grad / denom
        p.data -= lr * mu_next / (1 - prod * mu_next) * m / denom


class RAdam(Optimizer):
    """RAdam: $m_t, v_t$ as in Adam, $\\rho_\\infty = 2/(1-\\beta_2) - 1$,
    $\\rho_t = \\rho_\\infty - 2t\\beta_2^t/(1-\\beta_2^t)$. If $\\rho_t > 5$:
    $r_t = \\sqrt{\\frac{(\\rho_t-4)(\\rho_t-2)\\rho_\\infty}
    {(\\rho_\\infty-4)(\\rho_\\infty-2)\\rho_t}}$
    and $p \\leftarrow p - \\gamma \\hat m_t r_t \\sqrt{1-\\beta_2^t}/(\\sqrt{v_t}+\\epsilon)$,
    else $p \\leftarrow p - \\gamma \\hat m_t$, with $\\hat m_t = m_t/(1-\\beta_1^t)$.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr, eps, betas)
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        t = self._count(state)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        grad = _adam_weight_decay(p, grad, group)
        m, v = _adam_moments(state, grad, beta1, beta2)
        m_hat = m / (1 - beta1**t)
        bias2 = 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            p.data -= m_hat * lr * (math.sqrt(bias2) / (np.sqrt(v) + group["eps"])) * rect
        else:
            p.data -= m_hat * lr


class SparseAdam(Optimizer):
    """Adam restricted to the rows (slices along dim 0) where the gradient is nonzero, the
    rows a sparse gradient (e.g. from ``Embedding(sparse=True)``) materializes. On those rows
    $m$ and $v$ update as in Adam and
    $p \\leftarrow p - \\gamma\\frac{\\sqrt{1-\\beta_2^t}}{1-\\beta_1^t}
    \\frac{m}{\\sqrt{v}+\\epsilon}$;
    other rows of $p$, $m$, $v$ are untouched. ``step`` counts every call with a gradient.
    State: ``step`` (an int), ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        _check(lr > 0.0, f"Invalid learning rate: {lr}")
        _check(eps > 0.0, f"Invalid epsilon value: {eps}")
        _check_common(lr, betas=betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def _update(self, p: Any, grad: np.ndarray, group: dict) -> None:
        state = self.state[p]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        rows = np.any(grad.reshape(len(grad), -1) != 0, axis=1)
        g = grad[rows]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[rows] += (1 - beta1) * (g - m[rows])
        v[rows] += (1 - beta2) * (g * g - v[rows])
        step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        p.data[rows] -= step_size * m[rows] / (np.sqrt(v[rows]) + group["eps"])


class LBFGS(Optimizer):
    """L-BFGS (no line search), one group only; ``step(closure)`` runs up to ``max_iter``
    iterations. Direction $d = -H g$ by the two-loop recursion over the last
    ``history_size`` pairs $(s, y)$ with $y^\\top s > 10^{-10}$, $H_0 = y^\\top s / y^\\top y$;
    step $t = \\min(1, 1/\\|g\\|_1)\\gamma$ on the very first iteration, else $\\gamma$;
    $p \\leftarrow p + t d$. Stops on ``max_iter``, ``max_eval`` closure calls,
    $\\max|g| \\le$ ``tolerance_grad``, $g^\\top d > -$``tolerance_change``,
    $\\max|t d| \\le$ ``tolerance_change`` or a loss change below it.
    State (of the first parameter): ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
        *,
        maximize: bool = False,
    ) -> None:
        _check_common(lr)
        if line_search_fn is not None:
            raise ValueError(f"line_search_fn={line_search_fn!r} is not supported: only None")
        defaults = dict(lr=lr, max_iter=max_iter,
                        max_eval=max_eval if max_eval is not None else max_iter * 5 // 4,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn,
                        maximize=maximize)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        flat = np.concatenate([
            np.zeros(p.data.size) if p.grad is None else np.asarray(p.grad).reshape(-1)
            for p in self._params
        ])
        return -flat if self.param_groups[0]["maximize"] else flat

    def _add_grad(self, step_size: float, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            p.data += step_size * update[offset:offset + p.data.size].reshape(p.data.shape)
            offset += p.data.size

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Minimize with up to ``max_iter`` iterations; ``closure`` recomputes loss and grads."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        sign = -1.0 if group["maximize"] else 1.0
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = sign * float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == group["history_size"]:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                # two-loop recursion: q = -g, then r = H q
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d = d + (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:
                break
            self._add_grad(t, d)
            ls_func_evals = 0
            if n_iter != max_iter:
                loss = sign * float(closure())
                flat_grad = self._flat_grad()
                ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval:
                break
            if np.abs(flat_grad).max() <= tol_grad:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
