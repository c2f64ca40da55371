"""SmoothGrad: xaikit's kernel against NNC's one-sample-at-a-time loop.

    .venv/bin/python benchmarks/smoothgrad_speed.py [--rounds 3] [--cases digits,resnet18]

Cases: (a) the demo digit classifier (demo/digits.nnp), 200 samples; (b) a ResNet-18-shaped
classifier at 224x224 with random weights, written by this script as an NNC-style .nnp,
32 samples. Methods: ``xaikit`` (xaikit.explain("smoothgrad") with its defaults),
``gradient`` (the built-in ``gradient`` explainer smoothed with ``smoothgrad_sq`` over as
many noisy copies: the same map) and ``nnc-loop`` (NNC's plugin: batch size 1, every
gradient zeroed and computed, parameters included).

Every (round, case, method) runs in a fresh process started by this small one (Linux keeps
a process's peak across fork and exec), so that its peak memory is its own:
``peak`` is the process's peak resident set size (getrusage ru_maxrss, which counts
nnabla's C++ buffers that tracemalloc cannot see); ``work`` is ``peak`` less the resident
size after loading the model and the image, i.e. what explaining took (graphs, buffers,
noise). Times are medians over all timed runs (after one warm-up per process). GFLOP/s
counts the useful work only: multiply-adds of the convolutions and affine layers, forward
and input-gradient backward (2 x forward); the loop also spends time on parameter gradients.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "digits": {"num_samples": 200, "class_index": 3, "repeats": 5},
    "resnet18": {"num_samples": 32, "class_index": 0, "repeats": 1},
}
METHODS = ("nnc-loop", "xaikit", "gradient")
NOISE_LEVEL = 0.15


def resnet18(x, widths=(64, 128, 256, 512), num_classes=1000, batch_stat=False):
    """ResNet-18 (He et al., 2016) for 224x224 images: 1000 class logits (other ``widths``
    and ``num_classes`` for other ResNet-18-shaped networks; ``batch_stat`` to train)."""
    import nnabla.parametric_functions as PF

    from xaikit.engine.backend import F

    def conv_bn(h, maps, k, stride, name, relu=True):
        h = PF.convolution(h, maps, (k, k), pad=(k // 2,) * 2, stride=(stride,) * 2,
                           with_bias=False, name=name)
        h = PF.batch_normalization(h, batch_stat=batch_stat, name=name + "/bn")
        return F.relu(h) if relu else h

    h = conv_bn(x, widths[0], 7, 2, "conv1")
    h = F.max_pooling(h, (3, 3), stride=(2, 2), pad=(1, 1))
    for stage, maps in enumerate(widths):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"layer{stage + 1}/{block}"
            shortcut = h
            h = conv_bn(h, maps, 3, stride, name + "/a")
            h = conv_bn(h, maps, 3, 1, name + "/b", relu=False)
            if stride != 1 or shortcut.shape[1] != maps:
                shortcut = conv_bn(shortcut, maps, 1, stride, name + "/down", relu=False)
            h = F.relu(F.add2(h, shortcut))
    return PF.affine(F.global_average_pooling(h), num_classes, name="fc")


def forward_flops(model) -> int:
    """Multiply-add FLOPs of one sample's forward pass through convolutions and affines."""
    flops = [0]

    def visit(f):
        kind = f.info.type_name
        if kind == "Convolution":
            w = f.inputs[1]
            flops[0] += 2 * f.outputs[0].size * int(np.prod(w.shape[1:]))
        elif kind == "Affine":
            flops[0] += 2 * f.outputs[0].size * int(np.prod(f.inputs[1].shape[:1]))

    model.graph(1).output.visit(visit)
    return flops[0]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def nnc_loop(path: Path, class_index: int):
    """NNC's plugin loop, set up once: batch size 1, numpy noise, the noisy image let into
    the input as NNC's let_data_to_variable does, every variable's gradient zeroed and
    computed, the squared input gradient accumulated."""
    from nnabla.utils.nnp_graph import NnpLoader

    from xaikit.engine.backend import nn

    with nn.parameter_scope("nnc"):
        net = NnpLoader(str(path)).get_network("MainRuntime", batch_size=1)
    x, y = net.inputs["Input"], next(iter(net.outputs.values()))
    selected = y[:, class_index]
    rng = np.random.default_rng(0)

    def explain(image: np.ndarray, num_samples: int) -> np.ndarray:
        stdev = NOISE_LEVEL * (np.max(image) - np.min(image))
        total = np.zeros(image.shape, dtype=np.float32)
        for _ in range(num_samples):
            noisy = (image + rng.normal(0, stdev, image.shape))[None]
            x.data.cast(noisy.dtype)[...] = noisy
            x.need_grad = False
            for v in net.variables.values():
                v.need_grad = True
                v.grad.zero()
            selected.grad.zero()
            selected.forward()
            selected.backward()
            grad = x.g.copy()[0]
            total += grad * grad
        return total / num_samples

    return explain


def worker(case: str, method: str, path: Path, repeats: int) -> dict:
    import xaikit
    from xaikit.engine.gradients import MEMORY_BUDGET

    spec = CASES[case]
    n, c = spec["num_samples"], spec["class_index"]
    model = xaikit.load_model(path)
    if case == "digits":
        image = xaikit.load_image(ROOT / "demo/images/digit_3.png", model)
    else:
        image = np.random.default_rng(0).random(model.input_shape, dtype=np.float32)
    flops = 2 * forward_flops(model)
    base = rss_bytes()
    if method == "nnc-loop":
        loop = nnc_loop(path, c)
        run = lambda: loop(image, n)  # noqa: E731
    elif method == "xaikit":
        run = lambda: xaikit.explain("smoothgrad", model=model, image=image,  # noqa: E731
                                     class_index=c, num_samples=n, seed=0)
    else:
        run = lambda: xaikit.explain("gradient", model=model, image=image,  # noqa: E731
                                     class_index=c, smooth_samples=n,
                                     smooth_variant="smoothgrad_sq", seed=0)
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) / n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"times": times, "peak": peak, "base": base, "flops": flops, "budget": MEMORY_BUDGET}


def run_python(*args: str) -> str:
    return subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                          text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="processes per case and method")
    parser.add_argument("--cases", default="digits,resnet18")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, method, path, repeats = args.worker
        print(json.dumps(worker(case, method, Path(path), int(repeats))))
        return
    if args.build:
        from xaikit.testing import save_nnc_nnp

        save_nnc_nnp(args.build, resnet18, (3, 224, 224))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"digits": ROOT / "demo/digits.nnp", "resnet18": Path(tmp) / "resnet18.nnp"}
        cases = args.cases.split(",")
        if "resnet18" in cases:
            run_python("--build", str(paths["resnet18"]))
        for case in cases:
            results = {m: [] for m in METHODS}
            for _ in range(args.rounds):
                for method in METHODS:
                    out = run_python("--worker", case, method, str(paths[case]),
                                     str(CASES[case]["repeats"]))
                    results[method].append(json.loads(out.splitlines()[-1]))
            for method in METHODS:
                runs = results[method]
                per_sample = statistics.median(t for r in runs for t in r["times"])
                rows.append((case, method, per_sample, max(r["peak"] for r in runs),
                             max(r["peak"] - r["base"] for r in runs),
                             runs[0]["flops"] / per_sample / 1e9))
            loop, ours, gradient = (row[2] for row in rows[-3:])
            rows.append((case, "speed-up", loop / ours, None, None, None))
            rows.append((case, "gradient/xaikit", gradient / ours, None, None, None))

    print(f"{'case':<9} {'method':<15} {'per sample':>11} {'peak MiB':>9} {'work MiB':>9} "
          f"{'GFLOP/s':>8}")
    for case, method, value, peak, work, gflops in rows:
        if peak is None:
            print(f"{case:<9} {method:<15} {value:>10.2f}x")
            continue
        shown = f"{value * 1e3:.3f} ms" if value < 0.1 else f"{value:.3f} s"
        print(f"{case:<9} {method:<15} {shown:>11} {peak / 2**20:>9.0f} "
              f"{work / 2**20:>9.0f} {gflops:>8.1f}")
    budget = results["xaikit"][0]["budget"]
    print(f"memory budget of the default batch size: {budget // 2**20} MiB of work")


if __name__ == "__main__":
    main()
