"""Train the demo digit classifier and write it as an NNC-style .nnp with sample images.

Data: scikit-learn's bundled 8x8 digits, upscaled to 28x28 so the network and its maps have
the size of NNC's MNIST tutorials. Everything is seeded; a rerun writes the same files.

    .venv/bin/python scripts/train_demo_model.py [--out demo]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nnabla.parametric_functions as PF
import nnabla.solvers as S
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from xaikit.engine.backend import F, nn
from xaikit.testing import save_nnc_nnp

SIZE = 28


def lenet(x: "nn.Variable") -> "nn.Variable":
    """NNC's LeNet for 28x28 greyscale digits: two convolutions, two affine layers."""
    h = F.relu(F.max_pooling(PF.convolution(x, 16, (5, 5), name="conv1"), (2, 2)))
    h = F.relu(F.max_pooling(PF.convolution(h, 32, (5, 5), name="conv2"), (2, 2)))
    h = F.relu(PF.affine(h, 64, name="affine3"))
    return PF.affine(h, 10, name="affine4")


def digit_images() -> tuple:
    digits = load_digits()
    pixels = np.stack([
        np.asarray(Image.fromarray((img * 255 / 16).astype(np.uint8)).resize(
            (SIZE, SIZE), Image.BILINEAR))
        for img in digits.images
    ])
    return pixels, digits.target.astype(np.int32)


def train(x_train: np.ndarray, y_train: np.ndarray, epochs: int, seed: int,
          network=lenet) -> dict:
    """Parameters of ``network`` (logits of a ``(batch, 1, SIZE, SIZE)`` variable) trained
    with Adam on pixels ``x_train`` (0-255) and labels ``y_train``."""
    rng = np.random.default_rng(seed)
    nn.random.seed(seed)
    np.random.seed(seed)
    batch = 64
    with nn.parameter_scope("demo_training"):
        x = nn.Variable((batch, 1, SIZE, SIZE))
        t = nn.Variable((batch, 1))
        loss = F.mean(F.softmax_cross_entropy(network(x), t))
        solver = S.Adam(1e-3)
        solver.set_parameters(nn.get_parameters())
        for epoch in range(epochs):
            order = rng.permutation(len(x_train))
            for i in range(0, len(order) - batch + 1, batch):
                idx = order[i:i + batch]
                x.d = x_train[idx, None] / 255.0
                t.d = y_train[idx, None]
                loss.forward()
                solver.zero_grad()
                loss.backward()
                solver.update()
            print(f"epoch {epoch + 1}/{epochs}: loss {float(loss.d):.4f}")
        params = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
        nn.clear_parameters()  # this scope's, for the next network trained
        return params


def accuracy(params: dict, x_test: np.ndarray, y_test: np.ndarray) -> float:
    with nn.parameter_scope("demo_eval"):
        x = nn.Variable((len(x_test), 1, SIZE, SIZE))
        y = lenet(x)
        for name, value in params.items():
            nn.get_parameters()[name].d = value
        x.d = x_test[:, None] / 255.0
        y.forward()
        return float((y.d.argmax(axis=1) == y_test).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pixels, labels = digit_images()
    order = np.random.default_rng(args.seed).permutation(len(labels))
    test, train_idx = order[:300], order[300:]
    params = train(pixels[train_idx], labels[train_idx], args.epochs, args.seed)
    print(f"held-out accuracy: {accuracy(params, pixels[test], labels[test]):.3f}")

    args.out.mkdir(parents=True, exist_ok=True)
    save_nnc_nnp(args.out / "digits.nnp", lenet, (1, SIZE, SIZE), parameters=params)
    images = args.out / "images"
    images.mkdir(exist_ok=True)
    for digit in range(10):
        first = next(i for i in test if labels[i] == digit)
        Image.fromarray(pixels[first], "L").save(images / f"digit_{digit}.png")
    print(f"wrote {args.out / 'digits.nnp'} and {images}/digit_0..9.png")


if __name__ == "__main__":
    main()
