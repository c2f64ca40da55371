"""Dataset runs on Dask: clusters on 127.0.0.1 started by the tests (a LocalCluster through
``workers=``, and ``dask scheduler`` and ``dask worker`` processes), each closed by its test."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import distributed
import pytest

import xaikit
from xaikit.datasets import distributed as on_dask
from xaikit.testing import make_dataset_csv, make_nnp, run_cli

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
SLOW = {"num_samples": 2000, "seed": 0}
"""A row's work in the tests that act mid-run: a chunk of 4 rows takes some 0.2 s."""
WAIT = 120
"""Seconds any step of a test may take before it fails (the machine may be busy)."""
LOOPBACK = "127.0.0.1:0"
"""Where the clusters' HTTP servers listen: any free port on loopback."""


class Cluster:
    """A scheduler and workers as ``dask scheduler --host 127.0.0.1`` and ``dask worker``
    start them, each in a process group of its own; :meth:`close` kills them all."""

    def __init__(self, folder: Path, workers: int = 2, nanny: bool = True,
                 one_core: bool = False, preload: Optional[Path] = None) -> None:
        self.file = folder / "scheduler.json"
        self.processes = []
        self.preload = ["--preload", str(preload)] if preload else []
        try:
            self._start_all(workers, nanny, one_core)
        except BaseException:  # no process outlives a cluster that failed to start
            self.close()
            raise

    def _start_all(self, workers: int, nanny: bool, one_core: bool) -> None:
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--dashboard-address", LOOPBACK,
                                      "--scheduler-file", str(self.file)])
        wait_for(self._written, "the scheduler file")
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [
            self._start(["worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                         "--no-dashboard", "--dashboard-address", LOOPBACK,
                         "--death-timeout", "30"] + self.preload
                        + ([] if nanny else ["--no-nanny"]),
                        # the first worker runs on one core: its own default batch size
                        # would differ from the client's (two cores)
                        cores={0} if one_core and i == 0 else None)
            for i in range(workers)]
        with distributed.Client(self.address, timeout=WAIT) as client:
            client.wait_for_workers(workers, timeout=WAIT)

    def _written(self) -> bool:
        """The scheduler file is complete (the scheduler writes it in steps)."""
        try:
            return "address" in json.loads(self.file.read_text())
        except (OSError, ValueError):
            return False

    def _start(self, args, cores=None):
        process = subprocess.Popen(
            [str(DASK)] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        self.processes.append(process)
        return process

    def kill(self, process) -> None:
        """SIGKILL ``process`` and its children (a nanny's worker)."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(WAIT)

    def close(self) -> None:
        for process in self.processes:
            self.kill(process)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("cluster"), one_core=True)
    yield started
    started.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return {"model": make_nnp(folder / "grey.nnp"),
            "csv": make_dataset_csv(folder / "data.csv", rows=48)}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The demo model, whose maps change in their last bits with the batch size (a tiny
    model's do not), and 28x28 images for it."""
    folder = tmp_path_factory.mktemp("digits")
    return {"model": ROOT / "demo" / "digits.nnp",
            "csv": make_dataset_csv(folder / "data.csv", rows=48, size=(28, 28),
                                    num_classes=10)}


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT} s for {what}")
        time.sleep(0.05)


def run(data, output, **options):
    return xaikit.explain_dataset("smoothgrad", model=data["model"], input=data["csv"],
                                  output=output, progress=False, **options)


def files(output: Path):
    """Every map under the output's folder, by relative path, as bytes."""
    folder = output.with_suffix("")
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest_rows(output: Path) -> int:
    path = output.with_suffix(".manifest.jsonl")
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


@pytest.fixture(scope="module")
def reference(data, digits, tmp_path_factory):
    """The in-process maps (grey PNG and raw float32) of the fast and the slow settings."""
    folder = tmp_path_factory.mktemp("reference")
    fast = run(digits, folder / "fast.csv", sinks=("grey", "npy"), chunk_size=4, seed=0)
    slow = run(data, folder / "slow.csv", chunk_size=4, **SLOW)
    assert fast.ok and slow.ok
    return {"fast": files(fast.output), "slow": files(slow.output),
            "csv": (folder / "fast.csv").read_text()}


def test_workers_and_clusters_give_the_in_process_maps_bit_for_bit(
        digits, reference, cluster, tmp_path):
    # The cluster's first worker has one core: planning its passes for its own core
    # count would change the batch size, and the maps' last bits.
    with distributed.Client(cluster.address) as client:
        for name, options in [("workers", {"workers": 2}),
                              ("address", {"scheduler": cluster.address}),
                              ("client", {"scheduler": client})]:
            out = tmp_path / name / "fast.csv"
            result = run(digits, out, sinks=("grey", "npy"), chunk_size=4, seed=0, **options)
            assert (result.ok, result.explained) == (True, 48), name
            assert files(out) == reference["fast"], name
            assert out.read_text() == reference["csv"], name


def test_the_progress_bar_counts_rows_from_every_worker(data, cluster, tmp_path, capsys):
    xaikit.explain_dataset("smoothgrad", model=data["model"], input=data["csv"],
                           output=tmp_path / "out.csv", progress=True, chunk_size=4,
                           scheduler=cluster.address, num_samples=2)
    assert "48/48" in capsys.readouterr().err


@contextmanager
def explainer_here(name: str):
    """An explainer ``name`` that returns the image, registered in this process only."""
    class Here(xaikit.Explainer):
        def explain(self, model, image, class_index, params):
            return image

    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(type(name, (Here,), {"name": name})())

    xaikit.register_plugin(Plugin(), name=f"{name}-plugin")
    try:
        yield
    finally:
        xaikit.unregister_plugin(f"{name}-plugin")


def test_a_plugin_missing_on_a_worker_is_one_line_naming_both(data, cluster, tmp_path):
    with explainer_here("only-here"), pytest.raises(xaikit.PluginError) as caught:
        xaikit.explain_dataset("only-here", model=data["model"], input=data["csv"],
                               output=tmp_path / "out.csv", progress=False,
                               scheduler=cluster.address)
    with distributed.Client(cluster.address) as client:
        workers = set(client.nthreads())
    worker, _, rest = str(caught.value).partition(": ")
    assert worker.split() in [["worker", address] for address in workers]
    assert re.fullmatch(r"no explainer named 'only-here' \(installed: [a-z, -]*smoothgrad"
                        r"[a-z, -]*\); install the plugin there", rest)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out").exists()


def test_a_worker_killed_mid_run_costs_only_its_chunks(data, reference, tmp_path):
    cluster = Cluster(tmp_path, nanny=False)
    out = tmp_path / "slow.csv"
    results = []
    try:
        client = threading.Thread(target=lambda: results.append(
            run(data, out, chunk_size=4, scheduler=cluster.address, **SLOW)))
        client.start()
        wait_for(lambda: manifest_rows(out) > 0, "a first chunk")
        cluster.kill(cluster.workers[0])
        done_at_kill = manifest_rows(out)
        client.join(WAIT)
    finally:
        cluster.close()
    assert done_at_kill < 48 and results, "the worker died mid-run and the run ended"
    assert (results[0].ok, results[0].explained) == (True, 48)
    assert files(out) == reference["slow"]


CRASHING_PLUGIN = """
import os
import xaikit

class Crash(xaikit.Explainer):
    name = "crash"

    def explain(self, model, image, class_index, params):
        os._exit(1)

class Plugin:
    @xaikit.hookimpl
    def register_explainers(self, register):
        register(Crash())

def dask_setup(worker):
    xaikit.register_plugin(Plugin(), name="crash-plugin")
"""
"""Preloaded by the workers of the next test: an explainer that ends its worker's process."""


def test_workers_that_die_on_every_try_end_the_run_in_one_line(data, tmp_path):
    preload = tmp_path / "crash_plugin.py"
    preload.write_text(CRASHING_PLUGIN)
    cluster = Cluster(tmp_path, workers=1, preload=preload)
    out = tmp_path / "out.csv"
    try:
        with explainer_here("crash"), pytest.raises(xaikit.XaikitError) as caught:
            xaikit.explain_dataset("crash", model=data["model"], input=data["csv"],
                                   output=out, progress=False, chunk_size=48,
                                   scheduler=cluster.address)
    finally:
        cluster.close()
    assert str(caught.value) == ("workers: the workers running rows 0-47 died, again and "
                                 "again; see the workers' logs")
    assert manifest_rows(out) == 0 and not out.exists()


def test_the_scheduler_stopped_mid_run_keeps_what_was_done(data, reference, tmp_path):
    cluster = Cluster(tmp_path, workers=1)
    out = tmp_path / "slow.csv"
    errors = []

    def client():
        try:
            run(data, out, chunk_size=4, scheduler=cluster.address, **SLOW)
        except xaikit.XaikitError as exc:
            errors.append(str(exc))

    try:
        thread = threading.Thread(target=client)
        thread.start()
        wait_for(lambda: manifest_rows(out) > 0, "a first chunk")
        cluster.kill(cluster.scheduler)
        thread.join(WAIT)
    finally:
        cluster.close()
    assert errors == [f"scheduler: lost the connection to {cluster.address}; the maps "
                      "finished so far are kept: the same command resumes"]
    kept = manifest_rows(out)
    assert 0 < kept < 48 and not out.exists()
    resumed = run(data, out, chunk_size=4, **SLOW)
    assert (resumed.ok, resumed.reused, resumed.explained) == (True, kept, 48 - kept)
    assert files(out) == reference["slow"]


def test_an_interrupted_distributed_run_resumes(cluster, tmp_path):
    model = make_nnp(tmp_path / "grey.nnp")
    dataset = make_dataset_csv(tmp_path / "data.csv", rows=128)
    out = tmp_path / "out.csv"
    client = subprocess.Popen(
        [sys.executable, "-m", "xaikit", "run", "smoothgrad", "-m", str(model), "-i",
         str(dataset), "-o", str(out), "-n", "300", "--seed", "0", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: manifest_rows(out) > 0, "a first chunk")
        client.send_signal(signal.SIGINT)
        _, stderr = client.communicate(timeout=WAIT)
    finally:
        if client.poll() is None:
            client.kill()
    kept = manifest_rows(out)
    assert client.returncode == 130 and "Traceback" not in stderr
    assert f"stopped after {kept} of 128 rows; the same command resumes" in stderr
    assert 0 < kept < 128 and kept % 32 == 0  # whole chunks
    options = {"model": model, "input": dataset, "progress": False, "num_samples": 300,
               "seed": 0}
    resumed = xaikit.explain_dataset("smoothgrad", output=out, scheduler=cluster.address,
                                     **options)
    assert (resumed.ok, resumed.reused, resumed.explained) == (True, kept, 128 - kept)
    whole = xaikit.explain_dataset("smoothgrad", output=tmp_path / "whole.csv", **options)
    assert files(out) == files(whole.output)


def test_an_unreachable_scheduler_is_one_line_and_touches_nothing(
        data, tmp_path, monkeypatch):
    monkeypatch.setattr(on_dask, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    args = ["run", "smoothgrad", "-m", data["model"], "-i", data["csv"],
            "-o", tmp_path / "out.csv"]
    monkeypatch.setenv("XAIKIT_SCHEDULER", address)
    for result in (run_cli(args), run_cli(args + ["--scheduler", address])):
        assert result.exit_code == 1
        assert result.stderr == f"error: --scheduler: cannot reach {address} (tried for 1 s)\n"
    assert list(tmp_path.iterdir()) == []


def test_without_dask_workers_say_what_to_install(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "xaikit.datasets.distributed")
    result = run_cli(["run", "smoothgrad", "-m", data["model"], "-i", data["csv"],
                      "-o", tmp_path / "out.csv", "--workers", "2"])
    assert result.exit_code == 1
    assert result.stderr == ("error: --workers: needs Dask (distributed is missing): "
                             "pip install 'xaikit[dask]'\n")


@pytest.mark.parametrize("options,message", [
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"},
     "workers: give --workers (a cluster for the run) or --scheduler (an existing one), "
     "not both"),
    ({"workers": 0}, "workers: Input should be greater than or equal to 1 (got 0)"),
    ({"scheduler": ""}, "scheduler: String should have at least 1 character (got '')"),
    ({"scheduler": 8786}, "scheduler: expected an address such as tcp://host:8786 or a "
     "distributed.Client (got 8786)"),
    ({"workers": 2, "model": "loaded"}, "model: workers load the model themselves: give "
     "its file (or what xaikit.load_model takes), not a LoadedModel"),
])
def test_bad_cluster_options_fail_before_any_work(data, tmp_path, options, message):
    model = xaikit.load_model(data["model"]) if options.pop("model", None) else data["model"]
    with pytest.raises(xaikit.ParameterError) as caught:
        xaikit.explain_dataset("smoothgrad", model=model, input=data["csv"],
                               output=tmp_path / "out.csv", progress=False, **options)
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


def test_a_worker_loads_the_model_once_with_the_runs_adapter_options():
    from xaikit.testing import tiny_cnn

    def build(x):
        return tiny_cnn(x, 4)

    payload = on_dask.ModelPayload.of(build, {"input_shape": (3, 16, 16), "name": "tiny"})
    assert payload.key != on_dask.ModelPayload.of(build, {"input_shape": (3, 8, 8)}).key
    plugin = on_dask.ModelOnWorkers(payload)
    plugin.setup(worker=None)
    try:
        model = on_dask.worker_model(payload.key)
        assert (model.name, model.input_shape, model.num_classes) == ("tiny", (3, 16, 16), 4)
        assert on_dask.worker_model(payload.key) is model  # loaded once
    finally:
        plugin.teardown(worker=None)
    with pytest.raises(xaikit.XaikitError, match="never arrived"):
        on_dask.worker_model(payload.key)


def test_a_smoothed_run_on_a_cluster_gives_the_in_process_maps(digits, cluster, tmp_path):
    options = {"model": digits["model"], "input": digits["csv"], "progress": False,
               "sinks": ("npy",), "chunk_size": 4, "seed": 0, "smooth_samples": 4}
    inside = xaikit.explain_dataset("gradient", output=tmp_path / "a" / "out.csv", **options)
    spread = xaikit.explain_dataset("gradient", output=tmp_path / "b" / "out.csv",
                                    scheduler=cluster.address, **options)
    assert inside.explained == spread.explained == 48
    assert files(inside.output) == files(spread.output)
