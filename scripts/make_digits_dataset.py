"""Write an NNC-style dataset CSV of digit images for trying dataset runs on the demo model.

Images are scikit-learn's digits upscaled to 28x28 as for the demo model, saved as
``<out>/images/<digit>/<i>.png``; ``<out>/digits.csv`` lists them as ``x:image,y:label``
with paths relative to the CSV, as NNC does.

    python scripts/make_digits_dataset.py [--out build/digits] [--rows 1000]
    cd build/digits && xaikit run smoothgrad -m ../../demo/digits.nnp -i digits.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image
from train_demo_model import digit_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/digits"))
    parser.add_argument("--rows", type=int, default=1000, help="rows (at most 1797)")
    args = parser.parse_args()

    pixels, labels = digit_images()
    rows = [["x:image", "y:label"]]
    for i in range(min(args.rows, len(labels))):
        image = Path("images") / str(labels[i]) / f"{i}.png"
        (args.out / image.parent).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i], "L").save(args.out / image)
        rows.append(["./" + image.as_posix(), str(labels[i])])
    csv_path = args.out / "digits.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    print(f"wrote {csv_path} ({len(rows) - 1} rows)")


if __name__ == "__main__":
    main()
