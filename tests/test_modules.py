"""MODEL: the module system, held to torch and to the reference (reference/modules.py).

Random module trees (nesting, shared modules and parameters, buffers persistent or not, None
entries, containers, plain Python lists) are built the same way in torch and in the
reference, and every traversal, key and order is compared by object identity; random
registration sequences, hook sequences and container edits are replayed on both; random
edits of a state_dict (missing, extra, mis-shaped, non-tensor entries) load into both with
the same result or the same error. The torchvision totals and the notes' VGG16 edits are
checked on the meta device, where no parameter has storage.
"""

from __future__ import annotations

import inspect
import itertools
import re
import warnings
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided
from torch import nn

import reference.modules as rm
from tests.support import (
    LazyModule,
    accepts,
    assert_matches,
    known_torch_bug,
    requires_torchvision,
    to_numpy,
    to_torch,
    torch_at_least,
)

# The test classes are defined inside the two functions below, not at module level:
# pytest-markdown-docs looks for fenced examples in the docstring of every module-level class
# of a test file and parses the whole file once per class to find it (~40 ms a class here).


def _zeros(shape: tuple[int, ...], dtype: Any = np.float32, device: str | None = None):
    """Zeros; with ``device="meta"`` a writable zero-stride array over one element which,
    like a torch meta tensor, has the shape and dtype but no storage of that size."""
    if device == "meta":
        return as_strided(np.zeros(1, dtype), shape, (0,) * len(shape), writeable=True)
    return np.zeros(shape, dtype)


def _pair(v: Any) -> tuple[int, int]:
    return tuple(v) if isinstance(v, tuple) else (v, v)


# torch 2.13 added BatchNorm's keyword `bias` (2.11 lacks it), and prints it
BATCHNORM_HAS_BIAS = accepts(nn.BatchNorm2d, "bias")

# torchvision's VGG configurations "D" (VGG16) and "E" (VGG19): channels, "M" a max pool
VGG_CFGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def _reference_classes() -> SimpleNamespace:
    """torch's layers as the module system sees them, on the reference: each registers what
    the torch layer of the same name registers (parameter and buffer names, order, shapes,
    dtypes) and prints the same arguments (``extra_repr``). Only Linear and ReLU compute:
    the module system does not depend on what ``forward`` does. Then the test modules."""

    class Linear(rm.Module):
        def __init__(self, in_features, out_features, bias=True, device=None):
            super().__init__()
            self.in_features, self.out_features = in_features, out_features
            self.weight = rm.Parameter(_zeros((out_features, in_features), device=device))
            if bias:
                self.bias = rm.Parameter(_zeros((out_features,), device=device))
            else:
                self.register_parameter("bias", None)

        def forward(self, input):
            out = np.asarray(input) @ self.weight.data.T
            return out if self.bias is None else out + self.bias.data

        def extra_repr(self):
            return (
                f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}"
            )

    class Conv2d(rm.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     dilation=1, groups=1, bias=True, device=None):
            super().__init__()
            self.in_channels, self.out_channels = in_channels, out_channels
            self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
            self.padding, self.dilation, self.groups = _pair(padding), _pair(dilation), groups
            shape = (out_channels, in_channels // groups, *self.kernel_size)
            self.weight = rm.Parameter(_zeros(shape, device=device))
            if bias:
                self.bias = rm.Parameter(_zeros((out_channels,), device=device))
            else:
                self.register_parameter("bias", None)

        def extra_repr(self):
            s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
            s += f", stride={self.stride}"
            if self.padding != (0, 0):
                s += f", padding={self.padding}"
            if self.dilation != (1, 1):
                s += f", dilation={self.dilation}"
            if self.groups != 1:
                s += f", groups={self.groups}"
            return s + (", bias=False" if self.bias is None else "")

    class ReLU(rm.Module):
        def __init__(self, inplace=False):
            super().__init__()
            self.inplace = inplace

        def forward(self, input):
            return np.maximum(input, 0)

        def extra_repr(self):
            return "inplace=True" if self.inplace else ""

    class MaxPool2d(rm.Module):
        def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
            super().__init__()
            self.kernel_size = kernel_size
            self.stride = kernel_size if stride is None else stride
            self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

        def extra_repr(self):
            return (
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"
            )

    class AdaptiveAvgPool2d(rm.Module):
        def __init__(self, output_size):
            super().__init__()
            self.output_size = output_size

        def extra_repr(self):
            return f"output_size={self.output_size}"

    class Dropout(rm.Module):
        def __init__(self, p=0.5, inplace=False):
            super().__init__()
            self.p, self.inplace = p, inplace

        def extra_repr(self):
            return f"p={self.p}, inplace={self.inplace}"

    class BatchNorm2d(rm.Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                     track_running_stats=True, *, bias=True):
            super().__init__()
            self.num_features, self.eps, self.momentum = num_features, eps, momentum
            self.affine, self.track_running_stats = affine, track_running_stats
            if affine:
                self.weight = rm.Parameter(np.ones(num_features, np.float32))
                if bias:
                    self.bias = rm.Parameter(np.zeros(num_features, np.float32))
                else:
                    self.register_parameter("bias", None)
            else:
                self.register_parameter("weight", None)
                self.register_parameter("bias", None)
            stats = track_running_stats
            self.register_buffer("running_mean", np.zeros(num_features, np.float32)
                                 if stats else None)
            self.register_buffer("running_var", np.ones(num_features, np.float32)
                                 if stats else None)
            self.register_buffer("num_batches_tracked", np.array(0, np.int64)
                                 if stats else None)

        def extra_repr(self):
            bias = f"bias={self.bias is not None}, " if BATCHNORM_HAS_BIAS else ""
            return (
                f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, {bias}track_running_stats={self.track_running_stats}"
            )

    class VGG(rm.Module):
        # torchvision's VGG registers features, avgpool, classifier, in that order
        def __init__(self, cfg, num_classes=1000, device="meta"):
            super().__init__()
            layers, channels = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(MaxPool2d(kernel_size=2, stride=2))
                else:
                    layers += [Conv2d(channels, v, kernel_size=3, padding=1, device=device),
                               ReLU(inplace=True)]
                    channels = v
            self.features = rm.Sequential(*layers)
            self.avgpool = AdaptiveAvgPool2d((7, 7))
            self.classifier = rm.Sequential(
                Linear(512 * 7 * 7, 4096, device=device), ReLU(True), Dropout(p=0.5),
                Linear(4096, 4096, device=device), ReLU(True), Dropout(p=0.5),
                Linear(4096, num_classes, device=device),
            )

    class Block(rm.Module):
        def forward(self, x):
            return x

    class Affine(rm.Module):
        def forward(self, x, scale=1.0):
            return x * 2 * scale + 1

    class PlainList(rm.Module):
        def __init__(self, registered):
            super().__init__()
            layers = [Linear(2, 2), Linear(2, 2)]
            self.layers = rm.ModuleList(layers) if registered else layers
            self.extra = {"head": Linear(2, 1)}

    return SimpleNamespace(**{c.__name__: c for c in (
        Linear, Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Dropout, BatchNorm2d, VGG, Block,
        Affine, PlainList)})


def _torch_classes() -> SimpleNamespace:
    """The torch twins of the reference's test modules (same class names)."""

    class Block(nn.Module):
        def forward(self, x):
            return x

    class Affine(nn.Module):
        def forward(self, x, scale=1.0):
            return x * 2 * scale + 1

    class PlainList(nn.Module):
        def __init__(self, registered):
            super().__init__()
            layers = [nn.Linear(2, 2), nn.Linear(2, 2)]
            self.layers = nn.ModuleList(layers) if registered else layers
            self.extra = {"head": nn.Linear(2, 1)}  # a dict of modules: also invisible

    return SimpleNamespace(Block=Block, Affine=Affine, PlainList=PlainList)


R = _reference_classes()
T = _torch_classes()

# --- helpers -------------------------------------------------------------------------------

# Where torch raises RuntimeError the reference raises ValueError; Python's own exception
# classes are the same in both.
REFERENCE_ERROR = {RuntimeError: ValueError}


def _outcome(call) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as error:  # the class is the outcome being compared
        return "raised", error


def _same_error_class(torch_error: BaseException, ref_error: BaseException) -> bool:
    for cls in (NotImplementedError, KeyError, IndexError, AttributeError, TypeError,
                ValueError, RuntimeError):
        if isinstance(torch_error, cls):
            return isinstance(ref_error, REFERENCE_ERROR.get(cls, cls))
    return False


def _host(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return to_numpy(value)
    return value.data if isinstance(value, rm.Parameter) else np.asarray(value)


def _assert_same_values(t_value: Any, r_value: Any) -> None:
    """Exactly equal values and dtype: state is copied, never computed."""
    t_host, r_host = _host(t_value), _host(r_value)
    assert t_host.dtype == r_host.dtype and t_host.shape == r_host.shape
    assert np.array_equal(t_host, r_host)


def _ptr(value: Any) -> int:
    """Where a tensor's, array's or parameter's elements start in memory."""
    if isinstance(value, torch.Tensor):
        return value.data_ptr()
    array = value.data if isinstance(value, rm.Parameter) else value
    return array.__array_interface__["data"][0]


def _normalize_repr(text: str) -> str:
    """A printed module without the device tags torch adds for parameters on a GPU."""
    return re.sub(r" \(cuda:\d+\)", "", text.replace("torch.cuda.", "torch."))


_KEY_LISTS = {
    "missing": re.compile(r"Missing key\(s\) in state_dict: (.*?)\. ?$", re.M),
    "unexpected": re.compile(r"Unexpected key\(s\) in state_dict: (.*?)\. ?$", re.M),
}


def load_errors(message: str) -> dict[str, list[str]]:
    """The key lists of a load_state_dict error message, in order: missing, unexpected, the
    keys with a size mismatch, and the keys whose value is not a tensor."""
    found = {
        kind: re.findall(r'"([^"]*)"', m.group(1)) if (m := pattern.search(message)) else []
        for kind, pattern in _KEY_LISTS.items()
    }
    found["size"] = re.findall(r"size mismatch for (\S+):", message)
    found["not_tensor"] = re.findall(
        r'While copying the parameter named "([^"]*)", expected', message)
    return found


# --- the reference's API is torch's ------------------------------------------------------

MIRRORED_METHODS = (
    "register_buffer", "register_parameter", "add_module", "register_module", "parameters",
    "named_parameters", "buffers", "named_buffers", "children", "named_children", "modules",
    "named_modules", "apply", "train", "eval", "state_dict", "load_state_dict",
    "register_forward_pre_hook", "register_forward_hook", "extra_repr",
)


def _signature(function) -> list[tuple]:
    """Parameter names, kinds and defaults; torch's deprecated positional ``*args`` of
    ``state_dict`` and the ``self``/``cls`` parameters left out."""
    deprecated_args = function.__name__ == "state_dict"
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
            if p.name not in ("self", "cls")
            and not (deprecated_args and p.kind is p.VAR_POSITIONAL)]


@pytest.mark.spec()  # the API mirror (COMMON rule 2), no behaviour clause
@pytest.mark.parametrize("name", MIRRORED_METHODS)
def test_module_methods_have_torchs_signatures(name):
    torch_params = _signature(getattr(nn.Module, name))
    ref_params = _signature(getattr(rm.Module, name))
    # a parameter newer than the installed torch (modules' remove_duplicate, torch 2.11)
    assert [p for p in ref_params if p[0] in {q[0] for q in torch_params}] == torch_params


@pytest.mark.spec()
@pytest.mark.parametrize("name", ["Sequential", "ModuleList", "ModuleDict", "ParameterList",
                                  "ParameterDict"])
def test_containers_and_parameter_have_torchs_signatures(name):
    assert _signature(getattr(rm, name).__init__) == _signature(getattr(nn, name).__init__)
    assert _signature(rm.Parameter.__init__) == _signature(nn.Parameter.__new__)


# --- MODEL-1, MODEL-2, MODEL-3: registration by assignment -------------------------------

NAME_POOL = ("a", "b", "training", "forward", "x.y", "")
VALUE_KINDS = ("param", "module", "tensor", "none", "int")
REGISTRATION_OPS = ("setattr", "register_parameter", "register_buffer", "add_module", "delattr")


def _value(kind: str, side: str) -> Any:
    if kind == "param":
        return nn.Parameter(torch.zeros(2)) if side == "torch" else rm.Parameter(np.zeros(2))
    if kind == "module":
        return T.Block() if side == "torch" else R.Block()
    if kind == "tensor":
        return torch.zeros(2) if side == "torch" else np.zeros(2)
    return None if kind == "none" else 3


_KINDS_BY_CLASS = ((nn.Parameter, "param"), (rm.Parameter, "param"), (nn.Module, "module"),
                   (rm.Module, "module"), (torch.Tensor, "tensor"), (np.ndarray, "tensor"),
                   (bool, "bool"), (int, "int"), (type(None), "none"))


def _kind_of(value: Any) -> str:
    for cls, name in _KINDS_BY_CLASS:
        if isinstance(value, cls):
            return name
    return "method" if callable(value) else type(value).__name__


def _registration_state(module: Any) -> dict:
    d = module.__dict__
    return {
        "parameters": [(k, _kind_of(v)) for k, v in d["_parameters"].items()],
        "buffers": [(k, _kind_of(v)) for k, v in d["_buffers"].items()],
        "modules": [(k, _kind_of(v)) for k, v in d["_modules"].items()],
        "non_persistent": sorted(d["_non_persistent_buffers_set"]),
        "plain": {n: _kind_of(d[n]) for n in NAME_POOL if n in d},
    }


def _lookups(module: Any) -> dict:
    """What ``module.name`` gives for each name of the pool (or the error it raises)."""
    found = {}
    for name in NAME_POOL:
        kind, value = _outcome(lambda name=name: getattr(module, name))
        found[name] = _kind_of(value) if kind == "ok" else type(value).__name__
    return found


registration_ops = st.lists(
    st.tuples(
        st.sampled_from(REGISTRATION_OPS),
        st.sampled_from(NAME_POOL),
        st.sampled_from(VALUE_KINDS),
        st.booleans(),  # persistent, for register_buffer
    ),
    min_size=1,
    max_size=8,
)


def _registration_call(module: Any, side: str, op: tuple) -> Any:
    what, name, kind, persistent = op
    value = _value(kind, side)
    if what == "setattr":
        return lambda: setattr(module, name, value)
    if what == "delattr":
        return lambda: delattr(module, name)
    if what == "register_buffer":
        return lambda: module.register_buffer(name, value, persistent=persistent)
    return lambda: getattr(module, what)(name, value)


@pytest.mark.spec("MODEL-1", "MODEL-2", "MODEL-3")
@given(registration_ops)
@example([("setattr", "a", "tensor", True)])  # a plain tensor is no buffer
@example([("setattr", "a", "param", True), ("setattr", "a", "tensor", True)])  # TypeError
@example([("setattr", "a", "param", True), ("setattr", "a", "module", True)])  # TypeError
@example([("add_module", "a", "module", True), ("setattr", "a", "param", True)])  # moves
@example([("register_buffer", "a", "tensor", False), ("setattr", "a", "tensor", True)])
@example([("register_buffer", "a", "tensor", True), ("setattr", "a", "module", True)])
@example([("setattr", "training", "param", True)])  # 'training' becomes a parameter
@example([("register_parameter", "forward", "param", True)])  # exists: KeyError
@example([("register_parameter", "x.y", "param", True), ("add_module", "", "module", True)])
@example([("setattr", "x.y", "module", True)])  # assigning a module checks no name
@example([("setattr", "b", "none", True), ("register_parameter", "b", "none", True)])
def test_registration_sequences_agree(ops):
    torch_module, ref_module = T.Block(), R.Block()
    for op in ops:
        t_kind, t_value = _outcome(_registration_call(torch_module, "torch", op))
        r_kind, r_value = _outcome(_registration_call(ref_module, "ref", op))
        assert t_kind == r_kind, (op, t_value, r_value)
        if t_kind == "raised":
            assert _same_error_class(t_value, r_value), (op, t_value, r_value)
        assert _registration_state(torch_module) == _registration_state(ref_module), op
    assert _lookups(torch_module) == _lookups(ref_module)
    assert [k for k, _ in torch_module.named_parameters()] == [
        k for k, _ in ref_module.named_parameters()]
    assert list(torch_module.state_dict()) == list(ref_module.state_dict())


@pytest.mark.spec("MODEL-1", "MODEL-2")
@pytest.mark.parametrize("side", ["torch", "reference"])
def test_assignment_registers_by_kind_and_keeps_order(side):
    P, arr, Block = ((nn.Parameter, torch.zeros, T.Block) if side == "torch"
                     else (rm.Parameter, np.zeros, R.Block))
    m = Block()
    m.w = P(arr(2))
    m.sub = Block()
    m.register_buffer("mean", arr(2))
    m.register_buffer("scratch", arr(2), persistent=False)
    m.plain = arr(2)  # a tensor attribute registers nothing
    m.v = P(arr(3))
    assert list(m._parameters) == ["w", "v"]
    assert list(m._modules) == ["sub"] and list(m._buffers) == ["mean", "scratch"]
    assert "plain" in m.__dict__ and "plain" not in dict(m.named_buffers())
    assert list(m.state_dict()) == ["w", "v", "mean"]  # scratch is not persistent
    m.w = P(arr(4))  # the same kind keeps its position
    assert list(m._parameters) == ["w", "v"]
    m.mean = arr(5)  # a buffer's name takes a tensor and stays a buffer
    assert m.mean.shape == (5,) and list(m._buffers) == ["mean", "scratch"]
    m.scratch = arr(1)
    assert "scratch" not in m.state_dict()  # its persistence is kept
    m.w = None  # still registered, skipped by every traversal
    assert list(m._parameters) == ["w", "v"] and m.w is None
    assert [k for k, _ in m.named_parameters()] == ["v"]
    with pytest.raises(TypeError, match="parameter"):
        m.w = Block()  # a parameter's name takes only a Parameter or None
    m.mean = Block()  # a buffer's name moves to the children
    assert list(m._buffers) == ["scratch"] and list(m._modules) == ["sub", "mean"]
    m.sub = P(arr(1))  # and a child's name to the parameters
    assert list(m._parameters) == ["w", "v", "sub"] and list(m._modules) == ["mean"]
    del m.w
    m.w = Block()
    assert list(m._parameters) == ["v", "sub"] and list(m._modules) == ["mean", "w"]
    with pytest.raises(TypeError, match="parameter"):
        m.v = arr(3)
    with pytest.raises(TypeError, match="child module"):
        m.w = arr(3)
    with pytest.raises(AttributeError, match="has no attribute"):
        _ = m.missing


# --- the invalid inputs, held to both (OpInfo's error_inputs) ---------------------------

# Each row: (description, call(ns), torch's exception class, keyword of the message). ``ns``
# is the torch namespace (nn, Parameter, a zeros factory, Block) or the reference's.
TORCH_NS = SimpleNamespace(nn=nn, Parameter=nn.Parameter, zeros=torch.zeros, Block=T.Block)
REF_NS = SimpleNamespace(nn=rm, Parameter=rm.Parameter, Block=R.Block,
                         zeros=lambda *shape: np.zeros(shape, np.float32))


def _with_param(ns):
    m = ns.Block()
    m.w = ns.Parameter(ns.zeros(2))
    return m


def _with_child(ns):
    m = ns.Block()
    m.c = ns.Block()
    return m


def _hooked_bad_return(ns):
    m = ns.Block()
    m.register_forward_pre_hook(lambda mod, args, kwargs: 7, with_kwargs=True)
    return m(1.0)


def _linear_like(ns):
    m = ns.Block()
    m.weight = ns.Parameter(ns.zeros(2, 3))
    m.bias = ns.Parameter(ns.zeros(2))
    return m


ERROR_INPUTS = [
    ("parameter name with a dot", lambda ns: ns.Block().register_parameter(
        "a.b", ns.Parameter(ns.zeros(1))), KeyError, "contain"),
    ("empty parameter name", lambda ns: ns.Block().register_parameter(
        "", ns.Parameter(ns.zeros(1))), KeyError, "empty"),
    ("buffer name with a dot", lambda ns: ns.Block().register_buffer("a.b", ns.zeros(1)),
     KeyError, "contain"),
    ("module name with a dot", lambda ns: ns.Block().add_module("a.b", ns.Block()),
     KeyError, "contain"),
    ("non-string parameter name", lambda ns: ns.Block().register_parameter(
        1, ns.Parameter(ns.zeros(1))), TypeError, "string"),
    ("buffer over an existing parameter", lambda ns: _with_param(ns).register_buffer(
        "w", ns.zeros(2)), KeyError, "already exists"),
    ("parameter over a method", lambda ns: ns.Block().register_parameter(
        "forward", ns.Parameter(ns.zeros(1))), KeyError, "already exists"),
    ("tensor as a parameter", lambda ns: ns.Block().register_parameter("w", ns.zeros(1)),
     TypeError, "parameter"),
    ("tensor assigned to a parameter's name",
     lambda ns: setattr(_with_param(ns), "w", ns.zeros(2)), TypeError, "parameter"),
    ("module assigned to a parameter's name",
     lambda ns: setattr(_with_param(ns), "w", ns.Block()), TypeError, "parameter"),
    ("tensor assigned to a child's name",
     lambda ns: setattr(_with_child(ns), "c", ns.zeros(2)), TypeError, "child module"),
    ("int as a buffer", lambda ns: ns.Block().register_buffer("b", 3), TypeError, "buffer"),
    ("non-module child", lambda ns: ns.Block().add_module("c", 3), TypeError, "Module"),
    ("missing attribute", lambda ns: ns.Block().missing, AttributeError, "has no attribute"),
    ("delete a missing attribute", lambda ns: delattr(ns.Block(), "missing"), AttributeError,
     "missing"),
    ("train with a non-bool mode", lambda ns: ns.Block().train("yes"), ValueError, "boolean"),
    ("module without forward", lambda ns: ns.nn.Module()(1.0), NotImplementedError,
     "forward"),
    ("Sequential index out of range", lambda ns: ns.nn.Sequential(ns.Block())[1], IndexError,
     "out of range"),
    ("Sequential negative index out of range", lambda ns: ns.nn.Sequential(ns.Block())[-2],
     IndexError, "out of range"),
    ("ModuleList index out of range", lambda ns: ns.nn.ModuleList([ns.Block()])[3],
     IndexError, "out of range"),
    ("ModuleDict missing key", lambda ns: ns.nn.ModuleDict()["k"], KeyError, "k"),
    ("ParameterList called", lambda ns: ns.nn.ParameterList()(1.0), RuntimeError,
     "should not be called"),
    ("ParameterDict called", lambda ns: ns.nn.ParameterDict()(1.0), RuntimeError,
     "should not be called"),
    ("ParameterDict non-string key", lambda ns: ns.nn.ParameterDict()[1], TypeError,
     "string"),
    ("Sequential plus a list", lambda ns: ns.nn.Sequential() + [ns.Block()], ValueError,
     "Sequential"),
    ("Sequential times zero", lambda ns: ns.nn.Sequential(ns.Block()) * 0, ValueError,
     "Non-positive"),
    ("ModuleList extended by a non-iterable", lambda ns: ns.nn.ModuleList().extend(3),
     TypeError, "iterable"),
    ("pre-hook returning neither None nor (args, kwargs)", _hooked_bad_return, RuntimeError,
     "new_args"),
    ("state_dict that is not a mapping", lambda ns: _linear_like(ns).load_state_dict(
        [("weight", ns.zeros(2, 3))]), TypeError, "dict-like"),
    ("missing key, strict", lambda ns: _linear_like(ns).load_state_dict(
        {"weight": ns.zeros(2, 3)}), RuntimeError, r'Missing key\(s\) in state_dict: "bias"'),
    ("unexpected key, strict", lambda ns: _linear_like(ns).load_state_dict(
        {"weight": ns.zeros(2, 3), "bias": ns.zeros(2), "scale": ns.zeros(1)}), RuntimeError,
     r'Unexpected key\(s\) in state_dict: "scale"'),
    ("size mismatch, not strict", lambda ns: _linear_like(ns).load_state_dict(
        {"weight": ns.zeros(3, 2)}, strict=False), RuntimeError, "size mismatch for weight"),
    ("value that is not a tensor", lambda ns: _linear_like(ns).load_state_dict(
        {"weight": [[0.0] * 3] * 2, "bias": ns.zeros(2)}), RuntimeError,
     'While copying the parameter named "weight"'),
]


@pytest.mark.spec("MODEL-2", "MODEL-3", "MODEL-7", "MODEL-10", "MODEL-12", "MODEL-13",
                  "MODEL-14", "MODEL-15")
@pytest.mark.parametrize(("call", "torch_error", "keyword"),
                         [pytest.param(c, e, k, id=d) for d, c, e, k in ERROR_INPUTS])
def test_invalid_inputs_raise_in_both(call, torch_error, keyword):
    with pytest.raises(torch_error, match=keyword):
        call(TORCH_NS)
    with pytest.raises(REFERENCE_ERROR.get(torch_error, torch_error), match=keyword):
        call(REF_NS)


# --- random module trees ------------------------------------------------------------------
# A tree is described as a tuple of nodes, built in order, the last one the root:
#   node  = (kind, entries, plain_dict)   plain_dict: a *Dict built from a dict, not pairs
#   entry = (what, name, ref, persistent, register)
# what: "param", "buffer", "child", "hidden" (a plain Python list of modules) or "tensor" (a
# plain tensor attribute). ref: for a param or buffer None, ("new", shape, dtype) or
# ("shared", k), the k-th one created; for a child None or the index of an earlier node
# (several parents may share it); for hidden a tuple of node indices; for tensor a shape.
# register: register_parameter/add_module rather than attribute assignment.

BLOCK_NAMES = ("a", "b", "w", "bias", "x1", "mean")
KINDS = ("Block", "Block", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
         "ParameterDict")
ROOT_KINDS = ("Block", "Block", "Sequential", "ModuleList", "ModuleDict")
REF_CHOICES = ("new", "new", "new", "shared", "shared", "none")
BLOCK_ENTRIES = ("param", "buffer", "child", "param", "buffer", "child", "hidden", "param",
                 "buffer", "tensor")
PARAM_DTYPES = (np.float32, np.float64)
BUFFER_DTYPES = (np.float32, np.int64, np.bool_)

small_shapes = st.lists(st.integers(0, 3), max_size=2).map(tuple)


def entry(what, name, ref, persistent=True, register=False) -> tuple:
    return (what, name, ref, persistent, register)


@st.composite
def module_trees(draw, max_nodes: int = 6) -> tuple:
    n = draw(st.integers(1, max_nodes))
    counts = {"param": 0, "buffer": 0}
    nodes: list[tuple] = []

    def ref_of(kind: str):
        choice = draw(st.sampled_from(REF_CHOICES))
        if choice == "none":
            return None
        if counts[kind] and choice == "shared":
            return ("shared", draw(st.integers(0, counts[kind] - 1)))
        counts[kind] += 1
        dtypes = PARAM_DTYPES if kind == "param" else BUFFER_DTYPES
        return ("new", draw(small_shapes), draw(st.sampled_from(dtypes)))

    for i in range(n):
        kind = draw(st.sampled_from(KINDS if i < n - 1 else ROOT_KINDS))
        entries: list[tuple] = []
        earlier = st.integers(0, i - 1) if i else st.nothing()
        if kind == "Block":
            names = draw(st.permutations(BLOCK_NAMES))[:draw(st.integers(0, 6))]
            for name in names:
                what = draw(st.sampled_from(BLOCK_ENTRIES))
                if what in ("param", "buffer"):
                    persistent = draw(st.sampled_from((True, True, False)))
                    entries.append(entry(what, name, ref_of(what), persistent,
                                         draw(st.booleans())))
                elif what == "child":
                    ref = draw(st.none() | earlier) if i else None
                    entries.append(entry(what, name, ref, register=draw(st.booleans())))
                elif what == "hidden":
                    entries.append(entry(what, name, tuple(
                        draw(st.lists(earlier, max_size=2))) if i else ()))
                else:
                    entries.append(entry(what, name, draw(small_shapes)))
        elif kind in ("Sequential", "ModuleList") and i:
            entries = [entry("child", str(j), c)
                       for j, c in enumerate(draw(st.lists(earlier, max_size=4)))]
        elif kind == "ModuleDict" and i:
            names = draw(st.lists(st.sampled_from(BLOCK_NAMES), unique=True, max_size=3))
            entries = [entry("child", name, draw(earlier)) for name in names]
        elif kind == "ParameterList":
            refs = [r for _ in range(draw(st.integers(0, 3))) if (r := ref_of("param"))]
            entries = [entry("param", str(j), r) for j, r in enumerate(refs)]
        elif kind == "ParameterDict":
            names = draw(st.lists(st.sampled_from(BLOCK_NAMES), unique=True, max_size=3))
            entries = [entry("param", name, r) for name in names if (r := ref_of("param"))]
        if i == n - 1:  # the root also holds every node no other node holds: all reachable
            held = {e[2] for _, es, _ in nodes for e in es if e[0] == "child"}
            held |= {e[2] for e in entries if e[0] == "child"}
            for j in range(i):
                if j not in held:
                    key = str(len(entries)) if kind in ("Sequential", "ModuleList") else f"u{j}"
                    entries.append(entry("child", key, j))
        nodes.append((kind, tuple(entries), draw(st.booleans())))
    return tuple(nodes)


TORCH_CLASSES = {"Sequential": nn.Sequential, "ModuleList": nn.ModuleList,
                 "ModuleDict": nn.ModuleDict, "ParameterList": nn.ParameterList,
                 "ParameterDict": nn.ParameterDict}


def build(nodes: tuple, device: str = "cpu") -> SimpleNamespace:
    """The tree built twice: ``torch`` and ``ref`` roots, and a label for every object
    (module, parameter, buffer), the same on both sides, so orders compare by identity."""
    counter = itertools.count(1)
    created: dict[str, list[tuple[Any, Any]]] = {"param": [], "buffer": []}
    labels: dict[int, Any] = {}  # id -> label, for the objects of both sides
    t_mods: list = []
    r_mods: list = []

    def tensors(kind: str, ref: Any) -> tuple[Any, Any]:
        if ref is None:
            return None, None
        if ref[0] == "shared":
            return created[kind][ref[1]]
        _, shape, dtype = ref
        start = next(counter) * 10
        values = (np.arange(start, start + int(np.prod(shape))) % 7 - 3).reshape(shape)
        t, r = to_torch(values.astype(dtype), device), values.astype(dtype)
        if kind == "param":
            t, r = nn.Parameter(t, requires_grad=t.is_floating_point()), rm.Parameter(r)
        labels[id(t)] = labels[id(r)] = (kind, len(created[kind]))
        created[kind].append((t, r))
        return t, r

    for i, (kind, entries, plain_dict) in enumerate(nodes):
        if kind == "Block":
            t, r = T.Block(), R.Block()
            for what, name, ref, persistent, register in entries:
                if what == "buffer":
                    tv, rv = tensors(what, ref)
                    t.register_buffer(name, tv, persistent=persistent)
                    r.register_buffer(name, rv, persistent=persistent)
                elif what in ("param", "child"):
                    if what == "param":
                        tv, rv = tensors(what, ref)
                    else:
                        tv, rv = (None, None) if ref is None else (t_mods[ref], r_mods[ref])
                    if register or tv is None:  # assigning None would be a plain attribute
                        method = "register_parameter" if what == "param" else "add_module"
                        getattr(t, method)(name, tv)
                        getattr(r, method)(name, rv)
                    else:
                        setattr(t, name, tv)
                        setattr(r, name, rv)
                elif what == "hidden":  # a plain list: registers nothing
                    setattr(t, name, [t_mods[j] for j in ref])
                    setattr(r, name, [r_mods[j] for j in ref])
                else:
                    setattr(t, name, torch.zeros(ref, device=device))
                    setattr(r, name, np.zeros(ref, np.float32))
        elif kind in ("Sequential", "ModuleList"):
            tc = [t_mods[e[2]] for e in entries]
            rc = [r_mods[e[2]] for e in entries]
            if kind == "Sequential":
                t, r = nn.Sequential(*tc), rm.Sequential(*rc)
            else:
                t, r = nn.ModuleList(tc), rm.ModuleList(rc)
        else:
            pairs = [(e[1], tensors("param", e[2]) if kind.startswith("Parameter")
                      else (t_mods[e[2]], r_mods[e[2]])) for e in entries]
            t_pairs = [(k, tv) for k, (tv, _) in pairs]
            r_pairs = [(k, rv) for k, (_, rv) in pairs]
            t_cls, r_cls = TORCH_CLASSES[kind], getattr(rm, kind)
            if kind == "ParameterList":
                t, r = t_cls([v for _, v in t_pairs]), r_cls([v for _, v in r_pairs])
            elif plain_dict:
                t, r = t_cls(dict(t_pairs)), r_cls(dict(r_pairs))
            else:
                t, r = t_cls(t_pairs), r_cls(r_pairs)
        labels[id(t)] = labels[id(r)] = ("module", i)
        t_mods.append(t)
        r_mods.append(r)
    return SimpleNamespace(torch=t_mods[-1], ref=r_mods[-1], label=lambda o: labels[id(o)])


TRAVERSALS = [
    ("named_modules", {}),
    ("named_modules", {"prefix": "net"}),
    ("named_modules", {"remove_duplicate": False}),
    ("named_children", {}),
    ("named_parameters", {}),
    ("named_parameters", {"prefix": "net", "recurse": False}),
    ("named_parameters", {"remove_duplicate": False}),
    ("named_buffers", {}),
    ("named_buffers", {"recurse": False}),
    ("named_buffers", {"prefix": "net", "remove_duplicate": False}),
]
VALUE_TRAVERSALS = [("modules", {}), ("children", {}), ("parameters", {}),
                    ("parameters", {"recurse": False}), ("buffers", {})]
if accepts(nn.Module.modules, "remove_duplicate"):  # torch 2.4 lacks the parameter
    VALUE_TRAVERSALS.append(("modules", {"remove_duplicate": False}))


def assert_same_state(tree: SimpleNamespace) -> None:
    t_sd, r_sd = tree.torch.state_dict(), tree.ref.state_dict()
    assert list(t_sd) == list(r_sd)
    t_vars = tree.torch.state_dict(keep_vars=True)
    r_vars = tree.ref.state_dict(keep_vars=True)
    for key in t_sd:
        assert tree.label(t_vars[key]) == tree.label(r_vars[key]), key
        assert isinstance(r_sd[key], np.ndarray) and not t_sd[key].requires_grad
        _assert_same_values(t_sd[key], r_sd[key])
        assert _ptr(t_sd[key]) == _ptr(t_vars[key])  # a view of the parameter, not a copy
        assert _ptr(r_sd[key]) == _ptr(r_vars[key])


SHARED_LAYER_TREE = (  # the notes' Sequential(Linear, ReLU, shared, ReLU, shared, ...)
    ("Block", (entry("param", "w", ("new", (2, 2), np.float32)),), False),
    ("Block", (), False),
    ("Sequential", (entry("child", "0", 0), entry("child", "1", 1), entry("child", "2", 0),
                    entry("child", "3", 0)), False),
)
BUFFER_FIRST_TREE = (  # a persistent buffer registered before a parameter: params first
    ("Block", (entry("buffer", "mean", ("new", (2,), np.float32)),
               entry("param", "w", ("new", (), np.float64)),
               entry("buffer", "a", ("new", (1,), np.int64), False)), False),
)
TWO_NAMES_TREE = (  # one module under two names of one parent, a None child, a plain list
    ("Block", (entry("buffer", "mean", ("new", (), np.int64)),), False),
    ("Block", (entry("child", "a", 0), entry("child", "b", None), entry("child", "x1", 0),
               entry("hidden", "w", (0,))), False),
)


@pytest.mark.spec("MODEL-4", "MODEL-5", "MODEL-6", "MODEL-7", "MODEL-8", "MODEL-16",
                  "MODEL-17", "MODEL-18")
@given(module_trees(), st.integers(0, 100), st.booleans())
@example(SHARED_LAYER_TREE, 2, False)
@example(TWO_NAMES_TREE, 0, True)
@example(BUFFER_FIRST_TREE, 0, False)
def test_random_trees_agree_on_every_traversal(device, nodes, pick, mode):
    tree = build(nodes, device)
    t, r, label = tree.torch, tree.ref, tree.label
    for method, kwargs in TRAVERSALS:
        expected = [(n, label(o)) for n, o in getattr(t, method)(**kwargs)]
        assert [(n, label(o)) for n, o in getattr(r, method)(**kwargs)] == expected, (
            method, kwargs)
    for method, kwargs in VALUE_TRAVERSALS:
        expected = [label(o) for o in getattr(t, method)(**kwargs)]
        assert [label(o) for o in getattr(r, method)(**kwargs)] == expected, method
    t_seen, r_seen = [], []
    assert t.apply(lambda m: t_seen.append(label(m))) is t
    assert r.apply(lambda m: r_seen.append(label(m))) is r
    assert r_seen == t_seen
    assert_same_state(tree)
    assert rm.count_parameters(r) == sum(p.numel() for p in t.parameters())
    assert _normalize_repr(repr(r)) == _normalize_repr(repr(t))
    # train/eval: the whole tree, then one module's subtree
    t_all = [m for _, m in t.named_modules(remove_duplicate=False)]
    r_all = [m for _, m in r.named_modules(remove_duplicate=False)]
    assert t.train(not mode) is t and r.train(not mode) is r
    assert t_all[pick % len(t_all)].train(mode) is t_all[pick % len(t_all)]
    r_all[pick % len(r_all)].train(mode)
    assert [m.training for m in r_all] == [m.training for m in t_all]
    assert r.eval() is r and t.eval() is t
    assert not any(m.training for m in r_all) and not any(m.training for m in t_all)


# --- MODEL-9, MODEL-10: load_state_dict ---------------------------------------------------


@st.composite
def state_edits(draw, keys: list[str], module_names: list[str]) -> dict:
    """Random edits of a state dict: keys dropped, keys added (at the top, under a child,
    under a parameter's name), entries given another shape or a value that is no tensor,
    values of another dtype, another key order; and the flags of the call."""
    some_keys = st.sets(st.sampled_from(keys)) if keys else st.just(set())
    prefixes = [""] + [n + "." for n in module_names if n] + [k + "." for k in keys]
    extra = draw(st.lists(st.tuples(st.sampled_from(prefixes),
                                    st.sampled_from(("ghost", "w", "mean", "0"))), max_size=3))
    return {
        "drop": draw(some_keys),
        "reshape": draw(some_keys),
        "not_tensor": draw(st.sets(st.sampled_from(keys), max_size=1) if keys else some_keys),
        "extra": [p + n for p, n in extra],
        "order": draw(st.permutations(range(len(keys) + 3))),
        "strict": draw(st.booleans()),
        "assign": draw(st.booleans()),
        "cast": draw(st.booleans()),
    }


def _edited_states(tree: SimpleNamespace, edits: dict, device: str) -> tuple[dict, dict]:
    t_sd = tree.torch.state_dict()
    items = []
    for n, (key, value) in enumerate(t_sd.items()):
        if key in edits["drop"]:
            continue
        shape = tuple(value.shape)
        if key in edits["reshape"]:
            shape = (*shape, 2) if len(shape) < 2 else shape[1:]
            if shape == (2,) and ZERO_DIM_TAKES_ANY_VECTOR:
                shape = (2, 1)  # not the torch bug: test_a_zero_dim_entry_rejects_a_vector
        dtype = to_numpy(value).dtype
        new = ((np.arange(int(np.prod(shape))) % 5 + n + 1) * 0.5).reshape(shape)
        # a float64 value loads into any dtype by a cast; otherwise the entry's own dtype
        items.append((key, new if edits["cast"] else new.astype(dtype)))
    items += [(key, np.full((1,), 9.0, np.float32)) for key in dict.fromkeys(edits["extra"])
              if key not in t_sd]
    order = [i for i in edits["order"] if i < len(items)]
    order += [i for i in range(len(items)) if i not in order]
    t_state, r_state = OrderedDict(), OrderedDict()
    for i in order:
        key, new = items[i]
        if key in edits["not_tensor"]:
            t_state[key] = r_state[key] = new.tolist()
        else:
            t_state[key], r_state[key] = to_torch(new, device), new.copy()
    return t_state, r_state


@pytest.mark.spec("MODEL-9", "MODEL-10")
@given(module_trees(max_nodes=4), st.data())
def test_load_state_dict_with_random_edits_agrees(device, nodes, data):
    tree = build(nodes, device)
    t, r = tree.torch, tree.ref
    edits = data.draw(state_edits(list(t.state_dict()), [n for n, _ in t.named_modules()]))
    t_state, r_state = _edited_states(tree, edits, device)
    t_before, r_before = t.state_dict(keep_vars=True), r.state_dict(keep_vars=True)
    t_ptrs = {k: _ptr(v) for k, v in t_before.items()}
    kwargs = {"strict": edits["strict"], "assign": edits["assign"]}
    t_kind, t_result = _outcome(lambda: t.load_state_dict(t_state, **kwargs))
    r_kind, r_result = _outcome(lambda: r.load_state_dict(r_state, **kwargs))
    assert t_kind == r_kind, (t_result, r_result)
    if t_kind == "raised":
        assert isinstance(t_result, RuntimeError) and isinstance(r_result, ValueError)
        assert load_errors(str(r_result)) == load_errors(str(t_result))
        assert str(r_result).startswith(f"Error(s) in loading state_dict for {type(r).__name__}")
    else:
        assert r_result.missing_keys == t_result.missing_keys
        assert r_result.unexpected_keys == t_result.unexpected_keys
        if edits["strict"]:  # strict and no error: nothing was missing or unexpected
            assert tuple(t_result) == ([], [])
    # whatever happened, both hold the same state afterwards (loading is not atomic)
    t_sd, r_sd = t.state_dict(), r.state_dict()
    assert list(t_sd) == list(r_sd)
    for key in t_sd:
        _assert_same_values(t_sd[key], r_sd[key])
    if not edits["assign"]:  # in place: the same objects and storage stay registered
        t_after, r_after = t.state_dict(keep_vars=True), r.state_dict(keep_vars=True)
        assert all(t_after[k] is t_before[k] and _ptr(t_after[k]) == t_ptrs[k] for k in t_sd)
        assert all(r_after[k] is r_before[k] for k in r_sd)


@pytest.mark.spec("MODEL-9")
@pytest.mark.parametrize("side", ["torch", "reference"])
def test_load_state_dict_copies_in_place_and_returns_the_key_lists(device, side):
    if side == "torch":
        model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).to(device)
        source = {k: torch.ones_like(v) for k, v in model.state_dict().items()}
    else:
        model = rm.Sequential(R.Linear(3, 2), R.ReLU(), R.Linear(2, 1))
        source = {k: np.ones_like(v) for k, v in model.state_dict().items()}
    weight = model[0].weight
    result = model.load_state_dict(source)
    assert repr(result) == "<All keys matched successfully>"
    assert model[0].weight is weight  # the same Parameter stays registered
    assert (_host(model[0].weight) == 1).all()
    del source["2.bias"]
    source["2.scale"] = source["0.bias"]
    missing, unexpected = model.load_state_dict(source, strict=False)
    assert (missing, unexpected) == (["2.bias"], ["2.scale"])


@pytest.mark.spec("MODEL-10")
def test_a_failing_load_has_already_copied_every_matching_key():
    torch_model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    ref_model = rm.Sequential(R.Linear(2, 2), R.Linear(2, 2))
    state = {"0.weight": np.full((2, 2), 5.0, np.float32), "1.bias": np.zeros(3, np.float32),
             "1.scale": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as t_info:
        torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with pytest.raises(ValueError) as r_info:
        ref_model.load_state_dict(state)
    expected = {"missing": ["0.bias", "1.weight"], "unexpected": ["1.scale"],
                "size": ["1.bias"], "not_tensor": []}
    assert load_errors(str(t_info.value)) == expected == load_errors(str(r_info.value))
    for message in (str(t_info.value), str(r_info.value)):  # missing, unexpected, the rest
        lines = message.split("\n\t")
        assert [line.split(" ")[0] for line in lines[1:]] == ["Missing", "Unexpected", "size"]
    assert (torch_model[0].weight == 5).all() and (ref_model[0].weight.data == 5).all()


@pytest.mark.spec("MODEL-9")
def test_a_shared_parameter_is_loaded_from_each_of_its_keys_last_wins():
    t_shared, r_shared = nn.Linear(1, 1, bias=False), R.Linear(1, 1, bias=False)
    t_net, r_net = nn.Sequential(t_shared, t_shared), rm.Sequential(r_shared, r_shared)
    assert list(t_net.state_dict()) == list(r_net.state_dict()) == ["0.weight", "1.weight"]
    state = {"0.weight": np.array([[1.0]], np.float32),
             "1.weight": np.array([[2.0]], np.float32)}
    t_net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    r_net.load_state_dict(state)
    assert t_shared.weight.item() == r_shared.weight.data.item() == 2.0


@pytest.mark.spec("MODEL-9")
def test_assign_registers_the_state_tensors():
    t_model, r_model = nn.Linear(2, 1), R.Linear(2, 1)
    t_state = {"weight": torch.ones(1, 2), "bias": torch.ones(1)}
    r_state = {"weight": np.ones((1, 2), np.float32), "bias": np.ones(1, np.float32)}
    t_old, r_old = t_model.weight, r_model.weight
    t_model.load_state_dict(t_state, assign=True)
    r_model.load_state_dict(r_state, assign=True)
    assert t_model.weight is not t_old and r_model.weight is not r_old
    assert t_model.weight.data_ptr() == t_state["weight"].data_ptr()
    assert r_model.weight.data is r_state["weight"]
    assert isinstance(t_model.weight, nn.Parameter) and t_model.weight.requires_grad
    assert isinstance(r_model.weight, rm.Parameter) and r_model.weight.requires_grad


# torch < 2.10 loads the first element of any 1-d value into a 0-d entry (pytorch/pytorch
# #165873, reported on 2.8 and 2.9, fixed by #166335 for 2.10; here 2.4.1 has it, 2.11 not)
ZERO_DIM_TAKES_ANY_VECTOR = not torch_at_least("2.10")


@pytest.mark.spec("MODEL-9", "MODEL-10")
def test_a_zero_dim_entry_takes_a_one_element_vector():
    t_m, r_m = T.Block(), R.Block()
    t_m.register_buffer("count", torch.tensor(0))
    r_m.register_buffer("count", np.array(0))
    t_m.load_state_dict({"count": torch.tensor([7])})
    r_m.load_state_dict({"count": np.array([7])})
    assert t_m.count.shape == () and t_m.count.item() == 7
    assert r_m.count.shape == () and r_m.count.item() == 7
    with pytest.raises(ValueError, match="size mismatch for count"):
        r_m.load_state_dict({"count": np.array([8, 9])})
    assert r_m.count.item() == 7


@pytest.mark.spec("MODEL-10")
@known_torch_bug(fixed_in="2.10", issue="pytorch/pytorch#165873",
                 why="a 0-d entry silently takes the first element of a longer 1-d value")
def test_a_zero_dim_entry_rejects_a_longer_vector():
    m = T.Block()
    m.register_buffer("count", torch.tensor(0))
    with pytest.raises(RuntimeError, match="size mismatch for count"):
        m.load_state_dict({"count": torch.tensor([8, 9])})
    assert m.count.item() == 0


# --- MODEL-8, MODEL-11: state_dict of the notes' layers, BatchNorm -------------------------


@pytest.mark.spec("MODEL-8")
def test_state_dict_keys_of_the_notes_layers(device):
    linear = nn.Linear(4, 3).to(device)
    assert list(linear.state_dict()) == list(R.Linear(4, 3).state_dict()) == ["weight", "bias"]
    bn = nn.BatchNorm2d(3).to(device)
    keys = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(bn.state_dict()) == list(R.BatchNorm2d(3).state_dict()) == keys
    count = bn.state_dict()["num_batches_tracked"]
    assert count.dtype == torch.int64 and count.shape == ()
    assert R.BatchNorm2d(3).state_dict()["num_batches_tracked"].dtype == np.int64
    assert [k for k, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(nn.BatchNorm2d(3, track_running_stats=False).state_dict()) == [
        "weight", "bias"] == list(R.BatchNorm2d(3, track_running_stats=False).state_dict())
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).to(device)
    ref_cnn = rm.Sequential(R.Conv2d(1, 2, 3), R.BatchNorm2d(2), R.ReLU())
    assert list(cnn.state_dict()) == list(ref_cnn.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked"]
    assert repr(cnn) == repr(ref_cnn)


@pytest.mark.spec("MODEL-8")
def test_state_dict_values_share_memory_with_the_parameters(device):
    model, ref = nn.Linear(2, 2).to(device), R.Linear(2, 2)
    t_value, r_value = model.state_dict()["weight"], ref.state_dict()["weight"]
    assert not t_value.requires_grad and t_value.data_ptr() == model.weight.data_ptr()
    assert np.shares_memory(r_value, ref.weight.data)
    t_value.fill_(3.0)
    r_value.fill(3.0)
    assert (model.weight == 3).all() and (ref.weight.data == 3).all()


@pytest.mark.spec("MODEL-11")
def test_batchnorm_fills_a_missing_num_batches_tracked_without_version_metadata():
    bn = nn.BatchNorm2d(2)
    state = bn.state_dict()
    del state["num_batches_tracked"]
    # from state_dict(): _metadata records version 2, so the key is missing
    assert bn.load_state_dict(state, strict=False).missing_keys == ["num_batches_tracked"]
    with pytest.raises(RuntimeError, match='Missing key.*"num_batches_tracked"'):
        bn.load_state_dict(state)
    # a plain dict has no version: it is taken for an old checkpoint and the key filled in
    assert repr(bn.load_state_dict(dict(state))) == "<All keys matched successfully>"
    assert bn.num_batches_tracked.item() == 0


# --- MODEL-12: calling a module: forward and its hooks --------------------------------------

hook_ops = st.lists(
    st.one_of(
        st.tuples(st.just("pre"), st.sampled_from((None, "tuple", "bare", "kwargs", "bad")),
                  st.booleans(), st.booleans()),
        st.tuples(st.just("fwd"), st.sampled_from((None, "value")), st.booleans(),
                  st.booleans(), st.booleans()),
        st.tuples(st.just("remove"), st.integers(0, 7)),
        st.tuples(st.just("call"), st.sampled_from((1.0, -2.5, None)), st.booleans()),
    ),
    max_size=10,
)


def _run_hooks(module, ops) -> list:
    """Register, remove and call as ``ops`` say; the log of every hook call and result."""
    log: list = []
    handles = []
    for k, op in enumerate(ops):
        if op[0] == "pre":
            _, ret, prepend, with_kwargs = op

            def pre(mod, args, *kw, k=k, ret=ret):
                log.append(("pre", k, args, *kw))
                x = args[0]
                if ret == "tuple":
                    return None if x is None else (x + k,)
                if ret == "bare":  # a single value replaces the input, wrapped in a tuple
                    return None if x is None else x * 10
                if ret == "kwargs":
                    return (args, {**kw[0], "scale": float(k)}) if kw else None
                return k if ret == "bad" and kw else None

            handles.append(module.register_forward_pre_hook(
                pre, prepend=prepend, with_kwargs=with_kwargs or ret in ("kwargs", "bad")))
        elif op[0] == "fwd":
            _, ret, prepend, with_kwargs, always = op

            def fwd(mod, args, *rest, k=k, ret=ret):
                log.append(("fwd", k, args, *rest))
                return None if ret is None or rest[-1] is None else rest[-1] - k

            handles.append(module.register_forward_hook(
                fwd, prepend=prepend, with_kwargs=with_kwargs, always_call=always))
        elif op[0] == "remove":
            if handles:
                handles[op[1] % len(handles)].remove()  # removing twice is harmless
        else:
            _, x, scaled = op
            kind, value = _outcome(lambda x=x, s=scaled: module(x, scale=3.0) if s else module(x))
            name = type(value).__name__
            log.append(("result", kind, value if kind == "ok" else REFERENCE_NAME.get(name, name)))
    return log


REFERENCE_NAME = {"RuntimeError": "ValueError"}


@pytest.mark.spec("MODEL-12")
@given(hook_ops)
@example([("pre", "tuple", False, False), ("pre", "bare", True, False),
          ("fwd", "value", False, False, False), ("call", 1.0, False)])
@example([("fwd", "value", False, False, True), ("call", None, False)])  # always_call
@example([("pre", "bad", False, True), ("call", 1.0, True)])
@example([("pre", "kwargs", False, True), ("fwd", "value", True, True, False),
          ("call", 1.0, True)])
def test_hook_sequences_agree(ops):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an always_call hook failing after forward failed
        assert _run_hooks(R.Affine(), ops) == _run_hooks(T.Affine(), ops)


@pytest.mark.spec("MODEL-12")
@pytest.mark.parametrize("side", ["torch", "reference"])
def test_hooks_run_in_registration_order_and_replace_input_and_output(side):
    affine = T.Affine() if side == "torch" else R.Affine()
    calls = []
    affine.register_forward_pre_hook(lambda m, args: calls.append("pre1"))
    affine.register_forward_pre_hook(lambda m, args: (args[0] + 1,))  # the input + 1
    affine.register_forward_hook(lambda m, args, out: out * 100)
    handle = affine.register_forward_hook(lambda m, args, out: calls.append(args))
    assert affine(1.0) == ((1.0 + 1) * 2 + 1) * 100
    assert calls == ["pre1", (2.0,)]  # a forward hook sees the input the pre-hooks made
    handle.remove()
    handle.remove()
    with affine.register_forward_pre_hook(lambda m, args: 0.0):  # a bare value, wrapped
        assert affine(5.0) == 100.0
    assert affine(5.0) == 1300.0  # the context manager removed the hook


# --- MODEL-13, MODEL-14, MODEL-15: containers ---------------------------------------------

list_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(("append", "getitem", "setitem", "delitem", "pop",
                                   "insert")), st.integers(-5, 5), st.integers(0, 3)),
        st.tuples(st.sampled_from(("slice", "delslice")), st.none() | st.integers(-4, 4),
                  st.none() | st.integers(-4, 4), st.sampled_from((None, 1, 2, -1))),
        st.tuples(st.sampled_from(("extend", "iadd", "add")),
                  st.lists(st.integers(0, 3), max_size=3)),
        st.tuples(st.just("add_module"), st.sampled_from(("x", "y", "0")), st.integers(0, 3)),
        st.tuples(st.just("mul"), st.integers(1, 2)),
    ),
    max_size=6,
)


def _list_op(container, leaves, op, kind):
    name = op[0]
    if name == "append":
        return container.append(leaves[op[2]])
    if name == "getitem":
        return container[op[1]]
    if name == "setitem":
        container[op[1]] = leaves[op[2]]
        return None
    if name == "delitem":
        del container[op[1]]
        return None
    if name == "pop":
        return container.pop(op[1])
    if name == "insert":
        # ModuleList.insert is specified for 0 <= index <= len only (MODEL-14)
        index = op[1] % (len(container) + 1) if kind == "ModuleList" else op[1]
        return container.insert(index, leaves[op[2]])
    if name == "slice":
        return container[slice(*op[1:])]
    if name == "delslice":
        del container[slice(*op[1:])]
        return None
    if name == "extend":
        return container.extend([leaves[i] for i in op[1]])
    if name in ("iadd", "add"):
        items = [leaves[i] for i in op[1]]
        other = type(container)(*items) if kind == "Sequential" else type(container)(items)
        if name == "add":
            return container + other
        container += other
        return None
    if name == "add_module":
        return container.add_module(op[1], leaves[op[2]])
    return container * op[1] if kind == "Sequential" else None


@pytest.mark.spec("MODEL-13", "MODEL-14")
@given(st.sampled_from(("Sequential", "ModuleList")), st.lists(st.integers(0, 3), max_size=4),
       list_ops)
@example("Sequential", [0, 1, 2], [("setitem", -1, 3), ("delitem", 0, 0),
                                   ("slice", 1, None, None)])
@example("ModuleList", [0, 1], [("insert", 1, 3), ("delslice", None, None, 2)])
def test_list_container_edits_agree(kind, initial, ops):
    t_leaves, r_leaves = [T.Block() for _ in range(4)], [R.Block() for _ in range(4)]
    label = {id(m): i for leaves in (t_leaves, r_leaves) for i, m in enumerate(leaves)}
    t_cls, r_cls = TORCH_CLASSES[kind], getattr(rm, kind)
    t_init, r_init = [t_leaves[i] for i in initial], [r_leaves[i] for i in initial]
    if kind == "Sequential":
        t, r = t_cls(*t_init), r_cls(*r_init)
    else:
        t, r = t_cls(t_init), r_cls(r_init)

    def shape(c):
        return [(k, label.get(id(m), "?")) for k, m in c._modules.items()]

    def result(value):
        if value is t or value is r:
            return "self"
        if isinstance(value, (nn.Module, rm.Module)) and id(value) not in label:
            return (type(value).__name__, shape(value))  # a new container
        return label.get(id(value), value)

    for op in ops:
        t_kind, t_value = _outcome(lambda op=op: _list_op(t, t_leaves, op, kind))
        r_kind, r_value = _outcome(lambda op=op: _list_op(r, r_leaves, op, kind))
        assert t_kind == r_kind, (op, t_value, r_value)
        if t_kind == "raised":
            assert _same_error_class(t_value, r_value), (op, t_value, r_value)
        else:
            assert result(r_value) == result(t_value), op
        assert shape(r) == shape(t), op
        assert len(r) == len(t) and [label[id(m)] for m in r] == [label[id(m)] for m in t]


dict_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(("setitem", "delitem", "pop", "contains", "getitem")),
                  st.sampled_from(("a", "b", "c", "d")), st.integers(0, 3)),
        st.tuples(st.just("update"), st.sampled_from(("dict", "ordered", "pairs")),
                  st.lists(st.tuples(st.sampled_from(("d", "c", "b", "a")),
                                     st.integers(0, 3)), max_size=3)),
        st.tuples(st.sampled_from(("clear", "keys", "values", "popitem", "copy"))),
    ),
    max_size=6,
)


def _dict_op(container, leaves, op):
    name = op[0]
    if name == "setitem":
        container[op[1]] = leaves[op[2]]
        return None
    if name == "delitem":
        del container[op[1]]
        return None
    if name == "pop":
        return container.pop(op[1])
    if name == "contains":
        return op[1] in container
    if name == "getitem":
        return container[op[1]]
    if name == "update":
        pairs = [(k, leaves[i]) for k, i in op[2]]
        return container.update({"dict": dict, "ordered": OrderedDict, "pairs": list}[op[1]](
            pairs))
    if name == "keys":
        return list(container.keys())
    if name == "values":
        return list(container.values())
    if name in ("popitem", "copy"):  # ParameterDict's; a ModuleDict has neither
        if not hasattr(container, name):
            return None
        return container.popitem() if name == "popitem" else list(container.copy().keys())
    return container.clear()


@pytest.mark.spec("MODEL-14", "MODEL-15")
@given(st.sampled_from(("ModuleDict", "ParameterDict")), dict_ops)
@example("ParameterDict", [("update", "dict", [("d", 0), ("a", 1)])])  # a dict: sorted
@example("ModuleDict", [("update", "dict", [("d", 0), ("a", 1)])])  # a dict: its order
@example("ParameterDict", [("update", "ordered", [("d", 0), ("a", 1)])])
def test_dict_container_edits_agree(kind, ops):
    if kind == "ModuleDict":
        t_leaves, r_leaves = [T.Block() for _ in range(4)], [R.Block() for _ in range(4)]
    else:
        t_leaves = [nn.Parameter(torch.full((1,), float(i))) for i in range(4)]
        r_leaves = [rm.Parameter(np.full((1,), float(i), np.float32)) for i in range(4)]
    label = {id(m): i for leaves in (t_leaves, r_leaves) for i, m in enumerate(leaves)}
    t, r = TORCH_CLASSES[kind](), getattr(rm, kind)()

    def result(value):
        if isinstance(value, (tuple, list)):
            return type(value)(result(v) for v in value)
        return value if isinstance(value, (str, bool)) else label.get(id(value), value)

    for op in ops:
        t_kind, t_value = _outcome(lambda op=op: _dict_op(t, t_leaves, op))
        r_kind, r_value = _outcome(lambda op=op: _dict_op(r, r_leaves, op))
        assert t_kind == r_kind, (op, t_value, r_value)
        if t_kind == "raised":
            assert _same_error_class(t_value, r_value), (op, t_value, r_value)
        else:
            assert result(r_value) == result(t_value), op
        assert list(r.keys()) == list(t.keys()), op
        assert [label[id(v)] for v in r.values()] == [label[id(v)] for v in t.values()]
        if kind == "ParameterDict":
            assert [(k, label[id(p)]) for k, p in r.named_parameters()] == [
                (k, label[id(p)]) for k, p in t.named_parameters()]
    assert repr(r) == repr(t)


@pytest.mark.spec("MODEL-13")
@pytest.mark.parametrize("side", ["torch", "reference"])
def test_sequential_indexing_and_the_notes_edits(side):
    Block, Sequential = (T.Block, nn.Sequential) if side == "torch" else (R.Block,
                                                                          rm.Sequential)
    leaves = [Block() for _ in range(3)]
    seq = Sequential(*leaves)
    assert list(seq._modules) == ["0", "1", "2"]
    assert seq[-1] is leaves[2] and seq[0] is leaves[0]
    part = seq[1:]
    assert type(part) is Sequential and list(part._modules) == ["1", "2"]  # keys kept
    assert part[0] is leaves[1]
    seq[1] = leaves[0]  # replaced by position, under the same key
    assert list(seq._modules.items())[1] == ("1", leaves[0])
    seq.add_module("add_linear", leaves[1])  # named, at the end
    assert list(seq._modules)[-1] == "add_linear" and seq[3] is leaves[1]
    seq.append(leaves[2])
    assert list(seq._modules)[-1] == "4"
    del seq[0]  # renumbers every key, names included
    assert list(seq._modules) == ["0", "1", "2", "3"]


@pytest.mark.spec("MODEL-15")
def test_parameter_list_converts_arrays_and_keeps_other_objects_unregistered():
    t_list = nn.ParameterList([torch.zeros(2), 3, nn.Parameter(torch.ones(1))])
    r_list = rm.ParameterList([np.zeros(2, np.float32), 3, rm.Parameter(np.ones(1, np.float32))])
    for plist, P in ((t_list, nn.Parameter), (r_list, rm.Parameter)):
        assert isinstance(plist[0], P) and plist[1] == 3 and len(plist) == 3
        assert [k for k, _ in plist.named_parameters()] == ["0", "2"]
        assert list(plist.state_dict()) == ["0", "2"]
    assert repr(r_list) == repr(t_list)
    t_dict = nn.ParameterDict({"b": torch.zeros(1), "a": torch.zeros(2, dtype=torch.float64)})
    r_dict = rm.ParameterDict({"b": np.zeros(1, np.float32), "a": np.zeros(2)})
    assert list(t_dict) == list(r_dict) == ["a", "b"]  # a plain dict is inserted sorted
    assert repr(r_dict) == repr(t_dict)


# --- MODEL-16: plain Python containers register nothing (the notes' pitfall) -----------------


@pytest.mark.spec("MODEL-16")
@pytest.mark.parametrize("registered", [False, True])
def test_a_plain_list_of_modules_is_invisible_to_parameters_and_the_optimizer(registered):
    t, r = T.PlainList(registered), R.PlainList(registered)
    expected = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    expected = expected if registered else []
    assert [k for k, _ in t.named_parameters()] == expected
    assert [k for k, _ in r.named_parameters()] == expected
    assert list(t.state_dict()) == list(r.state_dict()) == expected
    assert [n for n, _ in t.named_modules()] == [n for n, _ in r.named_modules()]
    assert rm.count_parameters(r) == sum(p.numel() for p in t.parameters()) == (
        12 if registered else 0)
    t.eval()
    r.eval()
    assert t.layers[0].training is r.layers[0].training is (not registered)  # never reached
    if not registered:
        with pytest.raises(ValueError, match="empty parameter list"):
            torch.optim.SGD(t.parameters(), lr=0.1)


# --- MODEL-17: counting; the notes' shared layer -----------------------------------------


@pytest.mark.spec("MODEL-17")
def test_the_notes_shared_layer_is_one_parameter_set(device):
    shared = nn.Linear(8, 8)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                        nn.Linear(8, 1)).to(device)
    r_shared = R.Linear(8, 8)
    r_net = rm.Sequential(R.Linear(4, 8), R.ReLU(), r_shared, R.ReLU(), r_shared, R.ReLU(),
                          R.Linear(8, 1))
    assert net[2] is net[4] and r_net[2] is r_net[4]
    with torch.no_grad():
        net[2].weight.data[0, 0] = 100  # the notes: the change shows in both layers
    r_net[2].weight.data[0, 0] = 100
    assert net[4].weight[0, 0].item() == r_net[4].weight.data[0, 0] == 100
    assert sum(p.numel() for p in net.parameters()) == rm.count_parameters(r_net) == 121
    assert [k for k, _ in net.named_parameters()] == [k for k, _ in r_net.named_parameters()]
    assert len(list(net.named_parameters())) == 6  # 0, 2 and 6: the shared layer once
    assert len(net.state_dict()) == len(r_net.state_dict()) == 8  # under 2 and under 4
    assert [n for n, _ in net.named_modules()] == [n for n, _ in r_net.named_modules()] == [
        "", "0", "1", "2", "3", "5", "6"]  # the ReLUs are distinct objects; 4 is 2
    for p, rp in zip(net.parameters(), r_net.parameters(), strict=True):
        rp.data[...] = to_numpy(p)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    assert_matches(net(to_torch(x, device)), r_net(x))


@pytest.mark.spec("MODEL-17")
def test_count_parameters_counts_parameters_not_buffers():
    assert rm.count_parameters(R.BatchNorm2d(4)) == 8  # weight and bias; stats are buffers
    assert sum(p.numel() for p in nn.BatchNorm2d(4).parameters()) == 8
    assert rm.count_parameters(rm.Module()) == 0


# --- MODEL-18: the printed structure -----------------------------------------------------


@pytest.mark.spec("MODEL-18")
def test_printed_structure_of_containers():
    t_list = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    r_list = rm.ModuleList([R.Linear(2, 2), R.Linear(2, 2), R.ReLU(), R.Linear(2, 2)])
    assert repr(r_list) == repr(t_list) == (
        "ModuleList(\n"
        "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Linear(in_features=2, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(rm.ModuleList()) == repr(nn.ModuleList()) == "ModuleList()"
    t_seq = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3, bias=False), act=nn.ReLU(True)))
    r_seq = rm.Sequential(OrderedDict(conv=R.Conv2d(1, 2, 3, bias=False), act=R.ReLU(True)))
    assert repr(r_seq) == repr(t_seq) == (
        "Sequential(\n"
        "  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), bias=False)\n"
        "  (act): ReLU(inplace=True)\n"
        ")"
    )


# --- MODEL-19, MODEL-20: torchvision models on the meta device -----------------------------

TORCHVISION_TOTALS = {
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "alexnet": 61_100_840,
}
_META_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}
_MIRRORED = {nn.Sequential: rm.Sequential, nn.ModuleList: rm.ModuleList,
             nn.ModuleDict: rm.ModuleDict}


def mirror(module: nn.Module, memo: dict | None = None) -> rm.Module:
    """The reference twin of a torch module tree: the same registrations (meta arrays of the
    same shapes and dtypes), class names and printed arguments, sharing kept."""
    memo = {} if memo is None else memo
    if id(module) in memo:
        return memo[id(module)]
    cls = _MIRRORED.get(type(module))
    if cls is None:
        text = module.extra_repr()
        cls = type(type(module).__name__, (rm.Module,), {"extra_repr": lambda self: text})
    twin = memo[id(module)] = cls()
    for name, p in module._parameters.items():
        twin.register_parameter(name, None if p is None else rm.Parameter(
            _zeros(tuple(p.shape), _META_DTYPES[p.dtype], "meta")))
    for name, b in module._buffers.items():
        twin.register_buffer(
            name, None if b is None else _zeros(tuple(b.shape), _META_DTYPES[b.dtype], "meta"),
            persistent=name not in module._non_persistent_buffers_set)
    for name, child in module._modules.items():
        twin.add_module(name, None if child is None else mirror(child, memo))
    return twin


torchvision = LazyModule("torchvision")  # for the tests marked requires_torchvision below


def _meta_model(name: str) -> nn.Module:
    with torch.device("meta"):  # weights=None: random init, here without any storage
        return getattr(torchvision.models, name)()


@pytest.mark.spec("MODEL-19")
@requires_torchvision
@pytest.mark.parametrize(("name", "total"), list(TORCHVISION_TOTALS.items()))
def test_torchvision_model_totals(name, total):
    model = _meta_model(name)
    assert next(model.parameters()).is_meta
    twin = mirror(model)
    assert sum(p.numel() for p in model.parameters()) == total == rm.count_parameters(twin)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert [n for n, _ in twin.named_buffers()] == [n for n, _ in model.named_buffers()]
    assert [n for n, _ in twin.named_modules()] == [n for n, _ in model.named_modules()]
    assert list(twin.state_dict()) == list(model.state_dict())
    assert repr(twin) == repr(model)


@pytest.mark.spec("MODEL-19")
@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_reference_vgg_totals(name):
    assert rm.count_parameters(R.VGG(VGG_CFGS[name])) == TORCHVISION_TOTALS[name]


VGG16_EDITS = {  # the notes' three edits: (edit, parameters after it, classes forward gives)
    "add_module at the top": (
        lambda m, linear: m.add_module("add_linear", linear(1000, 10)), 138_367_554, 1000),
    "add_module in classifier": (
        lambda m, linear: m.classifier.add_module("add_linear", linear(1000, 10)),
        138_367_554, 10),
    "classifier[6] replaced": (
        lambda m, linear: m.classifier.__setitem__(6, linear(4096, 10)), 134_301_514, 10),
}


@pytest.mark.spec("MODEL-20")
@requires_torchvision
@pytest.mark.parametrize("edit", list(VGG16_EDITS))
def test_the_notes_vgg16_edits_on_torchvision(edit):
    change, total, classes = VGG16_EDITS[edit]
    model = _meta_model("vgg16")
    ref = R.VGG(VGG_CFGS["vgg16"])
    assert repr(ref) == repr(model)
    with torch.device("meta"):
        change(model, nn.Linear)
        out = model(torch.empty(1, 3, 224, 224))
    change(ref, lambda i, o: R.Linear(i, o, device="meta"))
    assert tuple(out.shape) == (1, classes)  # forward never calls a top-level addition
    assert sum(p.numel() for p in model.parameters()) == total == rm.count_parameters(ref)
    assert repr(ref) == repr(model)
    assert list(ref.state_dict()) == list(model.state_dict())


@pytest.mark.spec("MODEL-20")
@requires_torchvision
def test_the_edited_vgg16_cannot_take_the_original_state_strict_or_not():
    original, model = _meta_model("vgg16"), _meta_model("vgg16")
    model.classifier[6] = nn.Linear(4096, 10, device="meta")
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(original.state_dict(), strict=False)
    ref = R.VGG(VGG_CFGS["vgg16"])
    ref.classifier[6] = R.Linear(4096, 10, device="meta")
    with pytest.raises(ValueError) as ref_info:
        ref.load_state_dict(R.VGG(VGG_CFGS["vgg16"]).state_dict(), strict=False)
    expected = {"missing": [], "unexpected": [], "not_tensor": [],
                "size": ["classifier.6.weight", "classifier.6.bias"]}
    assert load_errors(str(info.value)) == expected == load_errors(str(ref_info.value))


@pytest.mark.spec("MODEL-20")
def test_the_notes_vgg16_printout():
    """The notes' printout of VGG16 (001, ``print(vgg16_true)``) and of its edits."""
    lines = repr(R.VGG(VGG_CFGS["vgg16"])).split("\n")
    assert lines[:3] == [
        "VGG(",
        "  (features): Sequential(",
        "    (0): Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
    ]
    assert lines[3] == "    (1): ReLU(inplace=True)"
    assert lines[32] == ("    (30): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                         "ceil_mode=False)")
    assert lines[33:] == [
        "  )",
        "  (avgpool): AdaptiveAvgPool2d(output_size=(7, 7))",
        "  (classifier): Sequential(",
        "    (0): Linear(in_features=25088, out_features=4096, bias=True)",
        "    (1): ReLU(inplace=True)",
        "    (2): Dropout(p=0.5, inplace=False)",
        "    (3): Linear(in_features=4096, out_features=4096, bias=True)",
        "    (4): ReLU(inplace=True)",
        "    (5): Dropout(p=0.5, inplace=False)",
        "    (6): Linear(in_features=4096, out_features=1000, bias=True)",
        "  )",
        ")",
    ]
    model = R.VGG(VGG_CFGS["vgg16"])
    model.classifier[6] = R.Linear(4096, 10, device="meta")
    assert repr(model).split("\n")[-3] == (
        "    (6): Linear(in_features=4096, out_features=10, bias=True)")
    model.add_module("add_linear", R.Linear(1000, 10, device="meta"))
    assert repr(model).split("\n")[-2] == (
        "  (add_linear): Linear(in_features=1000, out_features=10, bias=True)")
