"""Compare xaikit's SmoothGrad on an ONNX export with Captum's on the PyTorch model.

NEEDS PyTorch and Captum, which xaikit's own environment does not have (``make test``
never runs this). Run it with a Python that has them, pointing at xaikit's command::

    python -m venv torchvenv && torchvenv/bin/pip install torch captum onnx pillow
    torchvenv/bin/python scripts/compare_with_captum.py --xaikit .venv/bin/xaikit

It builds a small residual CNN (convolutions, batch norm, max pool, residual adds, global
average pool, linear) with random weights and a fixed seed, exports it with
``torch.onnx.export(opset_version=13)``, runs ``xaikit run smoothgrad`` on it with
torchvision's normalisation, and compares the map with Captum's
``NoiseTunnel(Saliency(model))`` SmoothGrad-SQ on the same preprocessed image.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from captum.attr import NoiseTunnel, Saliency
from PIL import Image
from torch import nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResidualCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1))


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = ResidualCNN()
    for module in model.modules():  # running statistics as a trained model has them
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def make_image(path: Path, size: int, seed: int) -> np.ndarray:
    """A smooth random RGB picture, saved as PNG; returns its 0-255 pixels (H, W, 3)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
    image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
    image.save(path)
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xaikit", default=".venv/bin/xaikit", help="xaikit's command")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="export with a dynamic batch dimension")
    parser.add_argument("--out", type=Path, default=None, help="folder for the files")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="xaikit-captum-"))
    out.mkdir(parents=True, exist_ok=True)

    model = make_model(seed=0)
    pixels = make_image(out / "image.png", args.size, seed=1)
    x = (pixels / 255.0 - np.array(MEAN)) / np.array(STD)
    x = torch.tensor(x.transpose(2, 0, 1)[None], dtype=torch.float32)

    onnx_path = out / "model.onnx"
    torch.onnx.export(
        model, (x,), str(onnx_path), opset_version=13, input_names=["x"],
        output_names=["logits"], dynamo=False,
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}} if args.dynamic_batch else None)

    maps = []
    for seed in (0, 1):  # a second seed: how far two estimates with other noise are apart
        map_path = out / f"map_seed{seed}.npy"
        command = [args.xaikit, "run", "smoothgrad", "-m", str(onnx_path),
                   "-i", str(out / "image.png"), "-c", "0",
                   "--onnx-mean", ",".join(map(str, MEAN)),
                   "--onnx-std", ",".join(map(str, STD)),
                   "-n", str(args.samples), "--seed", str(seed), "-o", str(map_path)]
        print("$", " ".join(command))
        start = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"xaikit: {time.perf_counter() - start:.2f} s (process included)")
        maps.append(np.load(map_path))
    ours = maps[0]

    stdevs = 0.15 * (x.max() - x.min()).item()
    start = time.perf_counter()
    theirs = NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad_sq", nt_samples=args.samples, stdevs=stdevs, target=0)
    print(f"captum: {time.perf_counter() - start:.2f} s")
    theirs = theirs[0].detach().numpy()

    with torch.no_grad():
        logits = model(x)[0].numpy()
    print(f"files in {out}")
    print(f"map shape: xaikit {ours.shape}, captum {theirs.shape}")
    print(f"class 0 logit (PyTorch): {logits[0]:.6f}")
    print(f"correlation (every value): {np.corrcoef(ours.ravel(), theirs.ravel())[0, 1]:.5f}")
    print(f"correlation (max over channels): "
          f"{np.corrcoef(ours.max(0).ravel(), theirs.max(0).ravel())[0, 1]:.5f}")
    print(f"mean: xaikit {ours.mean():.6g}, captum {theirs.mean():.6g}, "
          f"ratio {ours.mean() / theirs.mean():.4f}")
    print(f"for scale, xaikit seed 0 against seed 1: correlation "
          f"{np.corrcoef(ours.ravel(), maps[1].ravel())[0, 1]:.5f}, mean ratio "
          f"{ours.mean() / maps[1].mean():.4f}")


if __name__ == "__main__":
    main()
