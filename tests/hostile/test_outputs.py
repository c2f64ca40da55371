"""Output paths: created when missing, refused clearly when unwritable, never half-written."""

import numpy as np
from PIL import Image

from xaikit.testing import run_cli


def run(*args):
    return run_cli(["run", "smoothgrad", *args])


def test_missing_folders_are_created(models, images, tmp_path):
    out = tmp_path / "a" / "b" / "map.png"
    result = run("-m", models["grey"], "-i", images["grey"], "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (8, 8)


def test_unwritable_folder_gives_one_line_and_no_file(models, images, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    out = tmp_path / "file" / "map.png"
    result = run("-m", models["grey"], "-i", images["grey"], "-o", out)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --output: cannot write {out}: ")
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_failed_run_leaves_an_existing_output_untouched(models, images, tmp_path):
    out = tmp_path / "map.png"
    Image.fromarray(np.full((3, 3), 7, np.uint8)).save(out)
    before = out.read_bytes()
    result = run("-m", models["grey"], "-i", tmp_path / "missing.png", "-o", out)
    assert result.exit_code == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png"]


PEAK_SCRIPT = """
import sys, tracemalloc
import numpy as np
import xaikit

model = xaikit.load_model(sys.argv[1])

def peak_bytes(num_samples):
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        exp = xaikit.explain("smoothgrad", model=model, image=sys.argv[2],
                             num_samples=num_samples, batch_size=8, seed=0)
        assert np.isfinite(exp.attribution).all()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

peak_bytes(8)  # builds the batch-8 graph
print(peak_bytes(20000))
"""


def test_huge_num_samples_with_small_batch_runs_in_bounded_memory(models, images):
    # A fresh interpreter: tracemalloc counts every thread's allocations, and threads that
    # earlier tests left behind (a cluster's event loop, say) would be counted too.
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(models["grey"]),
                          str(images["grey"])], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    all_noise_at_once = 20000 * 8 * 8 * 8  # float64 noise for every sample: 10 MB
    assert int(run.stdout.split()[-1]) < all_noise_at_once / 2
