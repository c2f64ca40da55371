"""Hostile dataset CSVs: bad files end before any work; bad rows fail alone; interruptions
lose nothing."""

import csv
import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import xaikit
from xaikit.datasets.nnc_csv import read_dataset_csv
from xaikit.testing import make_dataset_csv, make_image, run_cli


def write(path, text):
    path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("text,message", [
    ("", "the file is empty"),
    ("x:image,y:label\n", "no data rows after the header"),
    ("x:image,z:label\n./a.png,1\n", "no variable 'y' for label_variable (variables: x, z)"),
    ("p:image,y:label\n./a.png,1\n", "no variable 'x' for input_variable (variables: p, y)"),
])
def test_bad_csv_ends_before_any_work_with_one_line(models, tmp_path, text, message):
    data = write(tmp_path / "data.csv", text)
    result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", data,
                      "-o", tmp_path / "out.csv"])
    assert result.exit_code == 1
    assert result.stderr == f"error: --input: {data}: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_awkward_paths_and_a_byte_order_mark_work(models, tmp_path):
    folder = tmp_path / "img dir" / "ünïcode"
    folder.mkdir(parents=True)
    make_image(folder / "a b.png")
    absolute = make_image(tmp_path / "elsewhere.png")
    data = write(tmp_path / "d.csv", "\ufeffx:image,y:label\r\n"
                 "./img dir/ünïcode/a b.png,1\r\n" f"{absolute},2\r\n")
    result = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=data,
                                    output=tmp_path / "o.csv", progress=False, num_samples=2)
    assert result.ok and result.explained == 2


def test_bad_rows_fail_alone_with_their_reason(models, tmp_path):
    make_image(tmp_path / "ok.png")
    data = write(tmp_path / "d.csv", "x:image,y:label\n"
                 "./ok.png,0\n./missing.png,0\n./ok.png,cat\n./ok.png,3\n"
                 "C:\\Users\\nnc\\dataset\\1.png,1\n")
    result = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=data,
                                    output=tmp_path / "o.csv", progress=False, num_samples=2)
    assert result.explained == 1
    assert [(f.row, f.reason) for f in result.failures] == [
        (1, "no such file"),
        (2, "label 'cat' is not a number"),
        (3, "label 3 is out of range for a model with 3 classes (0 to 2)"),
        (4, "no such file: a Windows path from the machine that wrote the CSV; copy the "
            "images here and give paths relative to the CSV's folder"),
    ]
    rows = list(csv.reader(open(tmp_path / "o.csv", encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == ["o/0000/0.png", "", "", "", ""]


HANGING = '''
    import os
    import time

    import numpy as np

    import xaikit


    class Slow(xaikit.Explainer):
        name = "slow"

        def explain(self, model, image, class_index, params):
            return np.full(model.input_shape, class_index + 1.0, np.float32)

        def explain_batch(self, model, images, class_indices, params):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3 and os.environ.get("HANG"):
                time.sleep(600)
            return super().explain_batch(model, images, class_indices, params)


    @xaikit.hookimpl
    def register_explainers(register):
        register(Slow())
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_run_keeps_the_old_csv_and_the_rerun_does_each_row_once(
        models, tmp_path, sig):
    data = make_dataset_csv(tmp_path / "data" / "d.csv", rows=100, size=(4, 4))
    (tmp_path / "slow_plugin.py").write_text(textwrap.dedent(HANGING))
    out = tmp_path / "out.csv"
    out.write_text("from an earlier run\n")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import slow_plugin; "
              "from xaikit.cli import main as cli; from xaikit.plugin import manager as plugins; "
              "plugins.register_plugin(slow_plugin); "
              "cli.main(sys.argv[2:])")
    argv = [sys.executable, "-c", script, str(tmp_path), "run", "slow", "-m",
            str(models["grey"]), "-i", str(data), "-o", str(out)]
    # A shell's background job starts with SIGINT ignored, and its children inherit that.
    proc = subprocess.Popen(argv, env={**os.environ, "HANG": "1"}, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                        signal.SIG_DFL))
    manifest = tmp_path / "out.manifest.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (manifest.is_file() and len(manifest.read_text().splitlines()) == 65):
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not hang"
            time.sleep(0.05)
    finally:
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "stopped after 64 of 100 rows; the same command resumes" in stderr
        assert "Traceback" not in stderr
    assert out.read_text() == "from an earlier run\n"  # kept until a new one is complete
    done = [json.loads(line)["row"] for line in manifest.read_text().splitlines()[1:]]
    assert done == list(range(64))
    stamps = {row: (tmp_path / f"out/0000/{row}.png").stat().st_mtime_ns for row in done}
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{out}: 100 rows: 36 explained, 64 reused, 0 failed" in again.stderr
    assert {row: (tmp_path / f"out/0000/{row}.png").stat().st_mtime_ns
            for row in done} == stamps
    rows = list(csv.reader(open(out)))
    assert len(rows) == 101 and all(r[0] == f"out/0000/{i}.png" for i, r in enumerate(rows[1:]))


class FillingFile:
    """A file being written to a disk that fills up after ``room`` more characters."""

    def __init__(self, file, room):
        self._file, self._room = file, room

    def write(self, text):
        if len(text) > self._room:
            self._file.write(text[:self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(text)
        return self._file.write(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._file.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._file, name)


def test_a_full_disk_halfway_through_the_csv_keeps_the_old_one(models, tmp_path, monkeypatch):
    data = make_dataset_csv(tmp_path / "data" / "d.csv", rows=40, size=(4, 4))
    out = tmp_path / "out.csv"
    args = ["run", "smoothgrad", "-m", models["grey"], "-i", data, "-o", out, "--num-samples", "2"]
    assert run_cli(args).exit_code == 0
    before = out.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    real_open = io.open

    def open_on_a_full_disk(file, mode="r", *args, **kwargs):
        """Files written as CSVs beside ``out`` (it, or its temporary copy) fill the disk
        halfway through ``out``'s size."""
        opened = real_open(file, mode, *args, **kwargs)
        if (isinstance(file, (str, os.PathLike)) and Path(file).parent == tmp_path
                and Path(file).suffix == ".csv" and set(mode) & set("wax+")):
            return FillingFile(opened, len(before) // 2)
        return opened

    monkeypatch.setattr("builtins.open", open_on_a_full_disk)
    monkeypatch.setattr(io, "open", open_on_a_full_disk)
    result = run_cli(args)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no temporary file left
    assert result.exit_code == 1
    assert result.stderr == f"error: --output: cannot write {out}: No space left on device\n"


CELLS = st.text(alphabet=st.sampled_from(list('ab1,;:"\n\r\t\ufeff./\\ y_x0')), max_size=80)


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=CELLS)
@example(text='"0\n0')  # found by the fuzzer: a header cell with a line break
def test_fuzz_the_csv_reader(tmp_path, text):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode("utf-8"))
    try:
        data = read_dataset_csv(path)
    except xaikit.DatasetError as exc:
        assert str(exc).startswith(f"input: {path}: ") and "\n" not in str(exc)
    else:
        assert data.rows and isinstance(data.image_path(0), os.PathLike)
        list(csv.reader(io.StringIO(text)))  # what it accepted is CSV
