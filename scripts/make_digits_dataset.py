"""Write an NNC-style dataset CSV of digit images for trying dataset runs on the demo model.

Images are scikit-learn's digits upscaled to 28x28 as for the demo model, saved as
``<out>/images/<digit>/<i>.png``; ``<out>/digits.csv`` lists them as ``x:image,y:label``
with paths relative to the CSV, as NNC does. Run it with xaikit's environment (``make demo``
makes it), from the repository::

    .venv/bin/python scripts/make_digits_dataset.py [--out build/digits] [--rows 1000]
    .venv/bin/xaikit run smoothgrad -m demo/digits.nnp -i build/digits/digits.csv \
        -o build/digits/smoothgrad.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

try:
    from PIL import Image
    from train_demo_model import digit_images
except ImportError as missing:
    sys.exit(f"error: {missing.name} is not installed for {sys.executable}; run this script "
             "with xaikit's environment: .venv/bin/python scripts/make_digits_dataset.py "
             "(make demo creates .venv)")


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
    print(f"wrote {csv_path} ({len(rows) - 1} rows; images in {args.out / 'images'})")


if __name__ == "__main__":
    main()
