"""Dataset runs in-process and on Dask workers: rows/s, bytes per row, and what more
workers would give.

    .venv/bin/python benchmarks/distributed_speed.py [--workers 2] [--cases digits,resnet18]

Cases: (a) the 1,000-row digits dataset (``scripts/make_digits_dataset.py``) on the demo
model, 25 samples; (b) a ResNet-18-shaped classifier at 224x224 with random weights
(written as ``benchmarks/smoothgrad_speed.py`` writes it) on 12 random RGB images,
25 samples. Both seeded, with the default chunk size.

For each case it measures:

- rows/s in-process and with ``workers=2`` (the local cluster that ``--workers 2``
  starts; its start-up and shut-down are reported apart), and that both runs wrote the
  same maps, bit for bit;
- compute per row: the time in the explainer (and the model's scores) per row in-process,
  which is what a worker like this machine spends on it, and its share of the in-process
  run's time ("explaining": the rest is reading images and writing maps); and the CPU time
  of explaining the largest chunk again with nothing else running, per row, which a busy
  machine changes less than times (a quiet machine's time is about this over its cores);
- the client alone: the run with every chunk answered at once from the in-process run's
  results, i.e. reading images, writing maps, manifest and CSV (and its CPU time per row);
- bytes per row each way: a chunk's task (preprocessed pixels and classes) and result
  (attributions, classes, scores), pickled as Dask sends them, over its rows;
- Dask's cost per task: 400 empty tasks through the local cluster.

From these it projects the rows/s of W workers, each a machine like this one: the least of
W x the compute rate, the client's rate, the scheduler's (rows per chunk over the cost
per task) and a 1 Gbit/s network's (125 MB/s over the bytes per row both ways), and names
the one that limits.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import xaikit  # noqa: E402
from xaikit.datasets import run as dataset_run  # noqa: E402
from xaikit.datasets.attribute import Attributed  # noqa: E402
from xaikit.plugin.manager import registry  # noqa: E402
from xaikit.testing import make_dataset_csv, save_nnc_nnp  # noqa: E402

SAMPLES = 25
NETWORK = 125e6
"""Bytes per second of a 1 Gbit/s link."""
PROJECTED = (4, 16, 64)
RESNET_ROWS = 12


def digits_case(folder: Path) -> dict:
    subprocess.run([sys.executable, str(ROOT / "scripts/make_digits_dataset.py"), "--out",
                    str(folder / "digits"), "--rows", "1000"], check=True,
                   stdout=subprocess.DEVNULL)
    return {"model": str(ROOT / "demo/digits.nnp"), "input": folder / "digits/digits.csv"}


def resnet_case(folder: Path) -> dict:
    from smoothgrad_speed import resnet18

    model = save_nnc_nnp(folder / "resnet18.nnp", resnet18, (3, 224, 224))
    data = make_dataset_csv(folder / "resnet/data.csv", rows=RESNET_ROWS, size=(224, 224),
                            mode="RGB", num_classes=1000)
    return {"model": str(model), "input": data}


def digest(output: Path) -> dict:
    folder = output.with_suffix("")
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def measure(name: str, case: dict, folder: Path, workers: int) -> dict:
    options = {"model": case["model"], "input": case["input"], "progress": False,
               "num_samples": SAMPLES, "seed": 0}
    computed, outcomes, chunks = [0.0], {}, []
    attribute = dataset_run.attribute_chunk

    def timed(algorithm, params, model, items):
        start = time.perf_counter()
        results = attribute(algorithm, params, model, items)
        computed[0] += time.perf_counter() - start
        outcomes.update((o.row, o) for o in results)
        chunks.append((items, results))
        return results

    dataset_run.attribute_chunk = timed
    try:
        inside = xaikit.explain_dataset("smoothgrad", output=folder / "inside.csv", **options)
    finally:
        dataset_run.attribute_chunk = attribute
    rows = inside.explained

    start = time.perf_counter()
    spread = xaikit.explain_dataset("smoothgrad", output=folder / "workers.csv",
                                    workers=workers, **options)
    wall = time.perf_counter() - start
    identical = digest(inside.output) == digest(spread.output)

    dataset_run.attribute_chunk = lambda a, p, m, items: [outcomes[i.row] for i in items]
    cpu = time.process_time()
    try:
        alone = xaikit.explain_dataset("smoothgrad", output=folder / "client.csv", **options)
    finally:
        dataset_run.attribute_chunk = attribute
    client_cpu = (time.process_time() - cpu) / rows

    items, results = max(chunks, key=lambda chunk: len(chunk[0]))
    algorithm = registry().get("explainer", "smoothgrad")
    model = xaikit.load_model(case["model"])
    attribute(algorithm, algorithm.Params(num_samples=SAMPLES, seed=0), model, items[:1])
    cpu = time.process_time()  # nothing else runs: the CPU time of explaining alone
    attribute(algorithm, algorithm.Params(num_samples=SAMPLES, seed=0), model, items)
    compute_cpu = (time.process_time() - cpu) / len(items)
    sent = len(pickle.dumps(items, protocol=5)) / len(items)
    received = len(pickle.dumps(results, protocol=5)) / len(items)
    assert all(isinstance(o, Attributed) for o in results)
    return {"name": name, "rows": rows, "chunk": len(items),
            "inside": rows / inside.seconds, "workers": rows / spread.seconds,
            "startup": wall - spread.seconds, "identical": identical,
            "compute": computed[0] / rows, "compute_cpu": compute_cpu,
            "client": rows / alone.seconds,
            "client_cpu": client_cpu, "sent": sent, "received": received}


def task_cost(workers: int, tasks: int = 400) -> float:
    """Seconds per empty task through a local cluster like ``--workers``'."""
    from distributed import Client, wait

    from xaikit.datasets.distributed import _local_cluster

    with _local_cluster(workers) as cluster, Client(cluster) as client:
        wait(client.map(abs, range(-50, 0), pure=False))  # warm up
        start = time.perf_counter()
        wait(client.map(abs, range(tasks), pure=False))
        return (time.perf_counter() - start) / tasks


def projection(m: dict, per_task: float, workers: int) -> dict:
    limits = {"client": m["client"], "scheduler": m["chunk"] / per_task,
              "network": NETWORK / (m["sent"] + m["received"])}
    compute = 1 / m["compute"]
    return {w: min([(w * compute, "workers")] + [(v, k) for k, v in limits.items()])
            for w in (workers,) + PROJECTED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", default="digits,resnet18")
    args = parser.parse_args()
    makers = {"digits": digits_case, "resnet18": resnet_case}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            results.append(measure(name, makers[name](folder), folder, args.workers))
        per_task = task_cost(args.workers)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; Dask: {per_task * 1e3:.2f} ms "
          "per task")
    print()
    print(f"{'case':9} {'rows':>5} {'chunk':>5} {'in-process':>10} {'explaining':>10} "
          f"{'workers':>8} {'start-up':>8} {'same maps':>9} {'compute/row':>11} "
          f"{'CPU/row':>9} {'client':>7} {'CPU/row':>9} {'sent/row':>9} {'back/row':>9}")
    for m in results:
        print(f"{m['name']:9} {m['rows']:5d} {m['chunk']:5d} {m['inside']:8.3g}/s "
              f"{m['compute'] * m['inside']:10.0%} {m['workers']:6.3g}/s {m['startup']:7.1f}s "
              f"{'yes' if m['identical'] else 'NO':>9} {m['compute'] * 1e3:9.4g}ms "
              f"{m['compute_cpu'] * 1e3:7.4g}ms {m['client']:5.0f}/s "
              f"{m['client_cpu'] * 1e3:7.3g}ms {m['sent'] / 1e3:7.1f}kB "
              f"{m['received'] / 1e3:7.1f}kB")
    print()
    print("projected rows/s, each worker a machine like this one (limit):")
    for m in results:
        cells = [f"{w} workers: {rate:.3g} ({limit})"
                 for w, (rate, limit) in projection(m, per_task, args.workers).items()]
        print(f"  {m['name']:10} " + "; ".join(cells))


if __name__ == "__main__":
    main()
