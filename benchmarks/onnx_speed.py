"""SmoothGrad on ONNX models: default settings against one noisy copy per pass.

    .venv/bin/python benchmarks/onnx_speed.py [--rounds 3] [--samples 32]
        [--network small|tiny|resnet18] [--size 64]

Writes a residual CNN (random weights, batch norm with random statistics): by default the
small one of scripts/compare_with_captum.py at 64x64, or ResNet-18; as ONNX files of every
batch shape the adapter handles: a fixed-batch export (batch 1, as
``torch.onnx.export`` writes by default), a dynamic-batch export whose flatten is a Reshape
computed from the tensor's shape (``x.view(x.size(0), -1)``), an NHWC (TensorFlow-style)
export, and the fixed-batch ``.nnp`` that nnabla's importer makes of the first (what NNC
users who import ONNX get). For each it times ``xaikit.explain("smoothgrad", ...)`` with
the default batch size and threads, and with ``batch_size=1, threads=1``; prints the time
per noisy copy (wall clock and the process's CPU time, medians over rounds after a
warm-up), the speed-up in wall-clock time, and how far apart the two maps are (the same
seed gives the same noise). The default settings gain from larger passes and from a
thread per core: on a machine busy with other work, only the CPU time shows the first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import xaikit

NETWORKS = {
    # name: (stem kernel and stride, stage widths, blocks per stage, classes)
    "resnet18": ((7, 2), (64, 128, 256, 512), 2, 1000),
    "small": ((3, 1), (16, 32, 64), 1, 10),
    "tiny": ((3, 1), (8, 16), 1, 10),
}
"""ResNet-18 (He et al., 2016), the small residual CNN of scripts/compare_with_captum.py,
and a tiny one for digit-sized images, whose passes cost more in overhead than in
arithmetic."""


def resnet_onnx(path: Path, size: int, *, batch, network: str = "resnet18",
                layout: str = "nchw", computed_flatten: bool = False) -> Path:
    """A residual network of :data:`NETWORKS` as ONNX nodes, written to ``path``."""
    (stem, stem_stride), widths, blocks, classes = NETWORKS[network]
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    count = [0]

    def name(prefix: str) -> str:
        count[0] += 1
        return f"{prefix}{count[0]}"

    def weight(shape, scale=None) -> str:
        key = name("w")
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        value = rng.normal(0, scale or np.sqrt(2 / fan_in), shape).astype(np.float32)
        inits.append(numpy_helper.from_array(value, key))
        return key

    def conv_bn(x, cin, cout, k, stride, relu=True):
        c = name("conv")
        nodes.append(helper.make_node("Conv", [x, weight((cout, cin, k, k))], [c],
                                      pads=[k // 2] * 4, strides=[stride] * 2))
        stats = [weight((cout,), 0.1) for _ in range(2)]
        scale = name("scale")
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, cout).astype(np.float32),
                                             scale))
        var = name("var")
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, cout).astype(np.float32),
                                             var))
        b = name("bn")
        nodes.append(helper.make_node("BatchNormalization", [c, scale, stats[0], stats[1], var],
                                      [b]))
        if not relu:
            return b
        r = name("relu")
        nodes.append(helper.make_node("Relu", [b], [r]))
        return r

    x = "x"
    if layout == "nhwc":
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    h = conv_bn(x, 3, widths[0], stem, stem_stride)
    nodes.append(helper.make_node("MaxPool", [h], ["pool"], kernel_shape=[3, 3],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    h, cin = "pool", widths[0]
    for stage, maps in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            a = conv_bn(h, cin, maps, 3, stride)
            b = conv_bn(a, maps, maps, 3, 1, relu=False)
            shortcut = conv_bn(h, cin, maps, 1, stride, relu=False) if stride != 1 else h
            added, out = name("add"), name("block")
            nodes += [helper.make_node("Add", [b, shortcut], [added]),
                      helper.make_node("Relu", [added], [out])]
            h, cin = out, maps
    nodes.append(helper.make_node("GlobalAveragePool", [h], ["gap"]))
    if computed_flatten:
        inits += [numpy_helper.from_array(np.array(0, np.int64), "zero"),
                  numpy_helper.from_array(np.array([0], np.int64), "axis0"),
                  numpy_helper.from_array(np.array([-1], np.int64), "rest")]
        nodes += [helper.make_node("Shape", ["gap"], ["gap_shape"]),
                  helper.make_node("Gather", ["gap_shape", "zero"], ["rows"], axis=0),
                  helper.make_node("Unsqueeze", ["rows", "axis0"], ["rows1"]),
                  helper.make_node("Concat", ["rows1", "rest"], ["target"], axis=0),
                  helper.make_node("Reshape", ["gap", "target"], ["features"])]
    else:
        nodes.append(helper.make_node("Flatten", ["gap"], ["features"], axis=1))
    nodes.append(helper.make_node("Gemm", ["features", weight((classes, cin)),
                                           weight((classes,), 0.01)], ["logits"], transB=1))
    dims = [batch or "batch"] + ([size, size, 3] if layout == "nhwc" else [3, size, size])
    graph = helper.make_graph(nodes, network, [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)], [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch or "batch", classes])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def imported_nnp(onnx_path: Path, path: Path) -> Path:
    """The .nnp nnabla's importer makes of an ONNX file: batch 1 baked in."""
    from nnabla.utils.converter.nnabla import NnpExporter
    from nnabla.utils.converter.onnx import OnnxImporter

    NnpExporter(OnnxImporter(str(onnx_path)).execute(), 1).execute(str(path))
    return path


def timed(model, image, samples: int, rounds: int, **params) -> tuple:
    """Median wall-clock and CPU seconds per noisy copy over ``rounds`` runs after a
    warm-up, and the map."""
    run = lambda: xaikit.explain("smoothgrad", model=model, image=image, class_index=0,  # noqa: E731
                                 num_samples=samples, seed=0, **params).attribution
    run()
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) / samples, statistics.median(cpu) / samples, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="small")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write = lambda name, **kw: resnet_onnx(d / name, args.size, network=args.network,  # noqa: E731
                                               **kw)
        fixed = write("fixed.onnx", batch=1)
        cases = {
            "fixed-batch export": (fixed, {}),
            "dynamic-batch export": (write("dynamic.onnx", batch=None, computed_flatten=True),
                                     {}),
            "NHWC export": (write("nhwc.onnx", batch=1, layout="nhwc"), {"layout": "nhwc"}),
            "imported .nnp": (imported_nnp(fixed, d / "imported.nnp"), {}),
        }
        rng = np.random.default_rng(1)
        print(f"{args.network} at {args.size}x{args.size}, {args.samples} noisy copies, "
              f"median of {args.rounds} rounds")
        print(f"{'':<22} {'ms per copy: default':>20} {'batch 1':>16}")
        print(f"{'model':<22} {'wall':>10} {'CPU':>9} {'wall':>9} {'CPU':>9} {'speed-up':>9} "
              f"{'map difference':>15}")
        for label, (path, options) in cases.items():
            model = xaikit.load_model(path, **options)
            for note in model.notes:
                print(f"note: {note}")
            image = rng.uniform(-2, 2, model.input_shape).astype(np.float32)
            fast, fast_cpu, fast_map = timed(model, image, args.samples, args.rounds)
            slow, slow_cpu, slow_map = timed(model, image, args.samples, args.rounds,
                                             batch_size=1, threads=1)
            difference = np.abs(fast_map - slow_map).max() / np.abs(slow_map).max()
            print(f"{label:<22} {fast * 1e3:>10.2f} {fast_cpu * 1e3:>9.2f} {slow * 1e3:>9.2f} "
                  f"{slow_cpu * 1e3:>9.2f} {slow / fast:>8.2f}x {difference:>15.1e}")


if __name__ == "__main__":
    main()
