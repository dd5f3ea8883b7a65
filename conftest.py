"""Suite-wide pytest setup: markers, the ``device`` parameter (``--device``), Hypothesis
profiles, torch global-state hygiene and the conformance record.

Recording works under ``pytest -n auto``: each worker attaches the clauses and the device of a
test to its report (``user_properties``), and the controller, which sees every report, writes
``docs/_generated/conformance.md`` and ``conformance.json`` (every test id with its outcome,
skip reason or known deviation, per device, with the torch version) at the end of the session.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

# One BLAS thread for NumPy (the reference's einsum and matmul), set before NumPy loads: on
# a loaded 2-core machine OpenBLAS's spinning threads tripled the capstone's CPU time.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("REFSPEC_TORCH_THREADS", "1"))

import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

ROOT = Path(__file__).parent
# REFSPEC_CONFORMANCE_DIR redirects the record (benchmarks/matrix.py runs several releases)
CONFORMANCE_FILE = (
    Path(os.environ.get("REFSPEC_CONFORMANCE_DIR") or ROOT / "docs" / "_generated")
    / "conformance.md"
)
MIN_CI_EXAMPLES = 100
_RECORDS: dict[str, object] = {}  # test id -> tests.clauses.TestRecord (on the controller)

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
        "markers", "torchvision: needs torchvision (skipped, naming why, where it cannot load)"
    )
    config.addinivalue_line(
        "markers", "spec(*clauses): the spec clauses (e.g. 'BCAST-1') this test checks"
    )
    if config.getoption("device") or os.environ.get("REFSPEC_DEVICES"):
        for name in selected_devices(config):
            _check_device(name)
    if not _runs_tests(config):  # an xdist controller: importing torch would delay its workers
        return
    # One intra-op thread per process: the tests' tensors are tiny and `-n auto` already
    # runs one worker per core; more threads only contend (13x slower measured on 2 cores).
    import torch

    torch.set_num_threads(int(os.environ.get("REFSPEC_TORCH_THREADS", "1")))
    try:  # NumPy may have been imported (and its BLAS started) before this file
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        config._refspec_blas_limit = threadpool_limits(
            int(os.environ.get("REFSPEC_TORCH_THREADS", "1")), user_api="blas"
        )


def _runs_tests(config: pytest.Config) -> bool:
    """False on an xdist controller, which only hands the tests to its workers."""
    if hasattr(config, "workerinput"):
        return True
    return config.getoption("dist", "no") == "no" or not config.getoption("tx", None)


def _current_profile() -> str:
    return settings._current_profile or "default"


def pytest_report_header(config: pytest.Config) -> list[str]:
    current = settings()
    seed = config.getoption("hypothesis_seed", None)
    if current.derandomize:
        seed_text = "derandomized (fixed per test)"
    else:
        seed_text = str(seed) if seed is not None else "random (printed on failure)"
    header = [
        f"refspec: hypothesis profile={_current_profile()} "
        f"examples/property={current.max_examples} seed={seed_text}"
    ]
    if _runs_tests(config):
        header.append(_tested_on_line(_torch_environment(config)))
    return header  # an xdist controller prints its workers' line at the end


def _tested_on_line(tested_on: dict[str, str]) -> str:
    return (
        f"refspec: torch {tested_on['torch']}, torchvision {tested_on['torchvision']}, "
        f"numpy {tested_on['numpy']}, devices: {tested_on['devices']}"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _WORKER_ENVIRONMENT:
        terminalreporter.write_line(_tested_on_line(_WORKER_ENVIRONMENT))


# --- devices ----------------------------------------------------------------------------

DEFAULT_DEVICES = ("cpu", "cuda")  # cuda is skipped, with a reason, where no GPU is present


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        action="append",
        default=None,
        metavar="DEVICE",
        help="run the device-generic tests on this torch device string (repeatable: "
        "--device cpu --device cuda:1; also mps, xpu, a custom backend). Default: cpu, "
        "plus cuda when present. The environment variable REFSPEC_DEVICES=cpu,cuda:1 "
        "does the same.",
    )


def selected_devices(config: pytest.Config) -> tuple[str, ...]:
    """The devices the ``device`` fixture runs on: ``--device``, else ``REFSPEC_DEVICES``,
    else cpu and cuda."""
    chosen = config.getoption("device") or [
        d.strip() for d in os.environ.get("REFSPEC_DEVICES", "").split(",") if d.strip()
    ]
    return tuple(chosen) or DEFAULT_DEVICES


def _check_device(name: str) -> None:
    """A device the user asked for must parse and hold a tensor; otherwise a usage error
    naming it (not a sea of skips)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise pytest.UsageError(
            f"--device {name!r} is not a torch device string: {error}"
        ) from None
    try:
        torch.empty(1, device=device)
    except Exception as error:  # AssertionError on a CPU-only build, RuntimeError elsewhere
        raise pytest.UsageError(
            f"--device {name!r} is not available to this torch: {type(error).__name__}: {error}"
        ) from None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """pytest-markdown-docs on the Markdown pages only: its scan of every test module's
    docstrings for fences (none hold one) parsed each module's source again: collection
    took 18 s a worker with it, 10.5 s without."""
    collectors = yield
    if file_path.suffix != ".py":
        return collectors
    return [c for c in collectors if type(c).__module__ != "pytest_markdown_docs.plugin"]


def _device_param(name: str) -> object:
    marks = [pytest.mark.cuda] if name.split(":")[0] == "cuda" else []
    return pytest.param(name, marks=marks, id=name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``device``: the torch device string a test runs on, one test case per selected device.
    Without a GPU the default cuda case is skipped (see the cuda marker)."""
    if "device" in metafunc.fixturenames:
        devices = selected_devices(metafunc.config)
        metafunc.parametrize("device", [_device_param(d) for d in devices], scope="session")


# --- clause recording and hygiene -----------------------------------------------------


def _clauses_of(item: pytest.Item) -> tuple[str, ...]:
    return tuple(c for m in item.iter_markers("spec") for c in m.args)


def _device_of(item: pytest.Item) -> str:
    """The device a test checks: its ``device`` parameter, ``cuda`` for a test that needs a
    GPU without taking the parameter, else ``any`` (shown in the cpu column)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "device" in callspec.params:
        return callspec.params["device"]
    return "cuda" if item.get_closest_marker("cuda") else "any"


NO_GPU = "no CUDA GPU: torch.cuda.is_available() is False on this machine"


_IMPORTS_TORCHVISION = re.compile(
    r"^\s*(?:import|from)\s+torchvision\b|importorskip\(\s*[\"']torchvision\b", re.MULTILINE
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    profile = _current_profile()
    no_gpu = not torch.cuda.is_available()
    # The site's tests first, then those needing torchvision: xdist's first batch for one
    # worker (a quarter of the tests split among the workers) then holds all of them, so one
    # worker builds, serves and reads the site (a second worker would wait for the build's
    # lock and read it again) and only that worker imports torchvision (2 s). Then the files
    # by size, longest first, for the balance at the end; the docs fences last.
    # (xdist 3.8's `--dist loadgroup` ignores its groups on pytest 9.2; `loadfile` balanced
    # badly: 148 s against 88 s on two workers.)
    for item in items:
        code = getattr(item, "code", None)  # a docs fence (pytest-markdown-docs)
        if code and _IMPORTS_TORCHVISION.search(code):
            item.add_marker(pytest.mark.torchvision)
    items.sort(key=_schedule_key)
    for item in items:
        if no_gpu and item.get_closest_marker("cuda"):  # the device fixture's cuda param too
            item.add_marker(pytest.mark.skip(reason=NO_GPU))
        item.user_properties.append(("spec", _clauses_of(item)))
        item.user_properties.append(("device", _device_of(item)))
        if profile == "ci":
            _check_no_silent_cut(item)


def _schedule_key(item: pytest.Item) -> tuple[int, int, str]:
    path = item.path
    if path.name == "test_site.py":
        return (0, 0, "")
    if item.get_closest_marker("torchvision"):
        return (1, 0, "")
    return (2 if path.suffix == ".py" else 3, -path.stat().st_size, str(path))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("torchvision"):
        from tests.support import torchvision_problem

        if problem := torchvision_problem():
            pytest.skip(problem)


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


def _outcome(report: pytest.TestReport) -> tuple[str, str] | None:
    """The outcome and reason one phase's report contributes to its test's record."""
    if hasattr(report, "wasxfail"):
        return ("xfailed", report.wasxfail) if report.skipped else ("failed", "XPASS(strict)")
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        return "failed", (crash.message.splitlines()[0][:200] if crash else report.when)
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skipped", reason.removeprefix("Skipped: ")
    return ("passed", "") if report.when == "call" else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    from tests.clauses import TestRecord

    outcome = _outcome(report)
    if outcome is None:
        return
    record = _RECORDS.get(report.nodeid)
    if record is None:
        props = dict(report.user_properties)
        _RECORDS[report.nodeid] = TestRecord(
            report.nodeid, tuple(props.get("spec") or ()), props.get("device", "any"), *outcome
        )
    else:
        record.worse(*outcome)


_WORKER_ENVIRONMENT: dict[str, str] = {}  # on the controller: what a worker's torch reported


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the page
        config.workeroutput["refspec_environment"] = _torch_environment(config)
        return
    if not _RECORDS:
        return
    from tests.clauses import write_conformance_page

    tested_on = _WORKER_ENVIRONMENT or _torch_environment(config)
    write_conformance_page(
        CONFORMANCE_FILE, list(_RECORDS.values()), environment=_environment(config, tested_on)
    )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist: a worker finished; its torch, numpy and devices describe the run."""
    _WORKER_ENVIRONMENT.update(getattr(node, "workeroutput", {}).get("refspec_environment", {}))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """An xdist worker ends without interpreter finalization, once everything is reported.

    The controller waits for every worker process to exit; tearing down torch's C state took
    0.5-1.4 s per process (4-6 s of the suite's wall time). By now the worker has sent
    ``workerfinished`` (xdist wraps ``pytest_sessionfinish``) and every other plugin has
    unconfigured; Python's exit handlers still run, only the C-level teardown is skipped.
    """
    if not hasattr(config, "workerinput"):
        return
    import atexit
    import sys

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _torch_environment(config: pytest.Config) -> dict[str, str]:
    """The software and devices the tests ran on (a worker's, under xdist)."""
    import numpy
    import torch

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    return {
        "torch": str(torch.__version__),  # a TorchVersion, which xdist cannot send
        "torchvision": _package_version("torchvision"),
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": f"cpu ({platform.processor() or platform.machine()}); cuda: {cuda}; "
        f"selected: {', '.join(selected_devices(config))}",
    }


def _environment(config: pytest.Config, tested_on: dict[str, str]) -> dict[str, str]:
    current = settings()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **tested_on,
        "hypothesis profile": _current_profile(),
        "examples per property": str(current.max_examples),
        "seed": "derandomized" if current.derandomize else "random",
        "workers": str(getattr(config.option, "numprocesses", None) or 1),
        "command": "pytest " + " ".join(config.invocation_params.args),
    }
