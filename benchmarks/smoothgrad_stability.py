"""SmoothGrad's stability: what ``num_samples="auto"`` costs and gives against fixed counts.

    .venv/bin/python benchmarks/smoothgrad_stability.py [--images 10] [--reference 4000]

Three digit classifiers, 28x28 greyscale: ``digits``, the demo LeNet (demo/digits.nnp);
``bncnn``, three convolutions with batch normalisation; ``resnet``, ResNet-18-shaped
(He et al., 2016: a strided 7x7 stem, four stages of two residual blocks, batch
normalisation) at a quarter of its widths, so that a 4,000-sample map takes seconds on
two cores. The last two are trained here on scikit-learn's digits (``--epochs``, seeded).
Images: the demo digits (demo/images), explained for each model's predicted class.

Per image, maps at seed 0 with ``num_samples`` auto (stability 0.95, at most 1,000), 25
and 200, and a reference map of ``--reference`` samples at seed 1 (independent noise).
Columns: samples per image (mean, min-max); seconds per image (mean, each map timed once
after a warm-up); the stability each map reports (mean); its correlation with the
reference (mean, min), of the maps summed over channels; with auto, the maps that
stopped at the cap. A map of stability ``s`` is expected to correlate with the converged
map at about ``sqrt(s)``, and with the reference at about ``sqrt(s * s_ref)``. About 3.5
minutes on two idle CPU cores, longer when they are shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("auto", 25, 200)
RESNET_WIDTHS = (16, 32, 64, 128)
"""A quarter of ResNet-18's widths: its 4,000-sample maps take seconds, not minutes."""
SEED, REFERENCE_SEED = 0, 1


def bn_cnn(x, batch_stat=False):
    """Three 3x3 convolutions with batch normalisation and ReLUs, two max-poolings, an
    affine layer: 10 class logits."""
    import nnabla.parametric_functions as PF

    from xaikit.engine.backend import F

    h = x
    for i, maps in enumerate((16, 32, 32)):
        h = PF.convolution(h, maps, (3, 3), pad=(1, 1), name=f"conv{i}")
        h = F.relu(PF.batch_normalization(h, batch_stat=batch_stat, name=f"bn{i}"))
        if i < 2:
            h = F.max_pooling(h, (2, 2))
    return PF.affine(h, 10, name="fc")


def script(path: Path):
    """The module of a script of this repository (they are not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_models(folder: Path, epochs: int) -> dict:
    """The three models' files: the demo's, and two trained here, written into ``folder``."""
    from functools import partial

    from xaikit.testing import save_nnc_nnp

    trainer = script(ROOT / "scripts" / "train_demo_model.py")
    resnet18 = partial(script(ROOT / "benchmarks" / "smoothgrad_speed.py").resnet18,
                       widths=RESNET_WIDTHS, num_classes=10)
    pixels, labels = trainer.digit_images()
    shape = (1, trainer.SIZE, trainer.SIZE)
    paths = {"digits": ROOT / "demo" / "digits.nnp"}
    for name, network in (("bncnn", bn_cnn), ("resnet", resnet18)):
        params = trainer.train(pixels, labels, epochs=epochs, seed=0,
                               network=partial(network, batch_stat=True))
        paths[name] = save_nnc_nnp(folder / f"{name}.nnp", network, shape, parameters=params)
    return paths


def accuracy(path: Path) -> float:
    """The model's accuracy on scikit-learn's digits (its training data but for the demo's)."""
    import xaikit

    trainer = script(ROOT / "scripts" / "train_demo_model.py")
    pixels, labels = trainer.digit_images()
    model = xaikit.load_model(path)
    scores = np.concatenate([model.predict(pixels[i:i + 256, None] / 255.0)
                             for i in range(0, len(pixels), 256)])
    return float((scores.argmax(axis=1) == labels).mean())


def measure(path: Path, images: list, reference: int) -> dict:
    """Per method, per image: samples, seconds, stability, correlation with the reference,
    whether it stopped at the cap."""
    import xaikit
    from xaikit.engine.stability import pearson

    model = xaikit.load_model(path)

    def run(image, num_samples, seed):
        start = time.perf_counter()
        exp = xaikit.explain("smoothgrad", model=model, image=image, class_index="predicted",
                             num_samples=num_samples, seed=seed)
        return exp, time.perf_counter() - start

    for method in METHODS:  # warm-up: graphs for each method's batch sizes
        run(images[0], method, SEED)
    rows = {method: [] for method in METHODS + ("reference",)}
    warnings.simplefilter("ignore")  # maps stopped at the cap are counted, not told
    for image in images:
        ref, seconds = run(image, reference, REFERENCE_SEED)
        rows["reference"].append((reference, seconds, ref.metadata["stability"], 1.0, False))
        for method in METHODS:
            exp, seconds = run(image, method, SEED)
            agreement = pearson(exp.attribution.sum(axis=0), ref.attribution.sum(axis=0))
            rows[method].append((exp.metadata["samples"], seconds, exp.metadata["stability"],
                                 agreement, exp.metadata.get("capped", False)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10, help="demo digits per model")
    parser.add_argument("--reference", type=int, default=4000, help="samples of the reference")
    parser.add_argument("--models", default="digits,bncnn,resnet")
    parser.add_argument("--epochs", type=int, default=3, help="training of bncnn and resnet")
    args = parser.parse_args()

    images = sorted((ROOT / "demo" / "images").glob("digit_*.png"))[:args.images]
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_models(Path(tmp), args.epochs)
        for name in args.models.split(","):
            print(f"{name}: accuracy {accuracy(paths[name]):.3f} on scikit-learn's digits")
            table += [(name, method, results)
                      for method, results in measure(paths[name], images, args.reference).items()]
    print(f"{'model':<7} {'samples':<9} {'per image (min-max)':>20} {'s/image':>8} "
          f"{'stability':>9} {'corr. ref (min)':>16} {'capped':>6}")
    for name, method, results in table:
        samples, seconds, stabilities, agreements, capped = zip(*results)
        label = method if method != "reference" else f"{args.reference} (ref)"
        spread = f"{statistics.mean(samples):.0f} ({min(samples)}-{max(samples)})"
        agree = ("" if method == "reference"
                 else f"{statistics.mean(agreements):.3f} ({min(agreements):.3f})")
        stopped = str(sum(capped)) if method == "auto" else ""
        print(f"{name:<7} {label:<9} {spread:>20} {statistics.mean(seconds):>8.3f} "
              f"{np.mean(stabilities):>9.3f} {agree:>16} {stopped:>6}")


if __name__ == "__main__":
    main()
