"""Suite-wide pytest setup: markers, the ``device`` fixture, Hypothesis profiles, torch
global-state hygiene and clause recording for the conformance page.

Clause recording works under ``pytest -n auto``: each worker attaches the clauses and the
device of a test to its report (``user_properties``), and the controller, which sees every
report, writes ``docs/_generated/conformance.md`` at the end of the session.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).parent
CONFORMANCE_FILE = ROOT / "docs" / "_generated" / "conformance.md"
MIN_CI_EXAMPLES = 100
_RESULTS: dict[tuple[str, str], list[str]] = defaultdict(list)  # (clause, device) -> outcomes

# --- Hypothesis profiles -------------------------------------------------------------------
_NO_EXPLAIN = tuple(p for p in Phase if p is not Phase.explain)
settings.register_profile(
    "ci",
    max_examples=MIN_CI_EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=_NO_EXPLAIN,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

# --- markers ----------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (select with -m cuda)")
    config.addinivalue_line("markers", "slow: takes seconds rather than milliseconds")
    config.addinivalue_line(
        "markers", "spec(*clauses): the spec clauses (e.g. 'BCAST-1') this test checks"
    )
    # One intra-op thread per process: the tests' tensors are tiny and `-n auto` already
    # runs one worker per core; more threads only contend (13x slower measured on 2 cores).
    import torch

    torch.set_num_threads(int(os.environ.get("REFSPEC_TORCH_THREADS", "1")))


def _current_profile() -> str:
    return settings._current_profile or "default"


def pytest_report_header(config: pytest.Config) -> list[str]:
    import torch

    current = settings()
    seed = config.getoption("hypothesis_seed", None)
    if current.derandomize:
        seed_text = "derandomized (fixed per test)"
    else:
        seed_text = str(seed) if seed is not None else "random (printed on failure)"
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [
        f"refspec: hypothesis profile={_current_profile()} "
        f"examples/property={current.max_examples} seed={seed_text}",
        f"refspec: torch {torch.__version__}, numpy {_numpy_version()}, cuda device: {cuda}",
    ]


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


# --- devices ----------------------------------------------------------------------------


@pytest.fixture(
    scope="session",
    params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)],
)
def device(request: pytest.FixtureRequest) -> str:
    """The torch device a test runs on: 'cpu' always, 'cuda' when a GPU is present."""
    return request.param  # a cuda param is skipped without a GPU (see the cuda marker)


# --- clause recording and hygiene -----------------------------------------------------


def _clauses_of(item: pytest.Item) -> tuple[str, ...]:
    return tuple(c for m in item.iter_markers("spec") for c in m.args)


def _device_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "device" in callspec.params:
        return callspec.params["device"]
    return "any"


NO_GPU = "no CUDA GPU: torch.cuda.is_available() is False on this machine"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    profile = _current_profile()
    no_gpu = not torch.cuda.is_available()
    for item in items:
        if no_gpu and item.get_closest_marker("cuda"):  # the device fixture's cuda param too
            item.add_marker(pytest.mark.skip(reason=NO_GPU))
        item.user_properties.append(("spec", _clauses_of(item)))
        item.user_properties.append(("device", _device_of(item)))
        if profile == "ci":
            _check_no_silent_cut(item)


def _check_no_silent_cut(item: pytest.Item) -> None:
    """Under ``ci`` no property may run fewer than MIN_CI_EXAMPLES examples."""
    test_settings = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
    if test_settings is not None and test_settings.max_examples < MIN_CI_EXAMPLES:
        raise pytest.UsageError(
            f"{item.nodeid}: max_examples={test_settings.max_examples} is below the ci "
            f"profile's minimum of {MIN_CI_EXAMPLES}; don't cut examples per test"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Run each test from seed 0 and restore torch's global state afterwards."""
    import torch

    rng = torch.random.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    dtype = torch.get_default_dtype()
    grad = torch.is_grad_enabled()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(0)
    try:
        return (yield)
    finally:
        torch.random.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        if torch.are_deterministic_algorithms_enabled() != deterministic:
            # only when changed: the setter imports torch._dynamo (seconds, once per worker)
            torch.use_deterministic_algorithms(deterministic)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    clauses = props.get("spec") or ()
    if not clauses:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
    elif report.when == "teardown" and report.outcome == "failed":
        outcome = "failed"
    else:
        return
    for clause in clauses:
        _RESULTS[(clause, props.get("device", "any"))].append(outcome)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the page
        return
    if not _RESULTS:
        return
    from tests.clauses import write_conformance_page

    write_conformance_page(CONFORMANCE_FILE, _RESULTS, environment=_environment(config))


def _environment(config: pytest.Config) -> dict[str, str]:
    import numpy
    import torch

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    current = settings()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": f"cpu ({platform.processor() or platform.machine()}); cuda: {cuda}",
        "hypothesis profile": _current_profile(),
        "examples per property": str(current.max_examples),
        "seed": "derandomized" if current.derandomize else "random",
        "workers": str(getattr(config.option, "numprocesses", None) or 1),
        "command": "pytest " + " ".join(config.invocation_params.args),
    }
