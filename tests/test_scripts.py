"""The demo dataset script, as the README tells a newcomer to run it."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_digits_dataset.py"
README = (ROOT / "README.md").read_text()


def test_without_xaikits_environment_it_says_what_to_run_instead():
    # -S: no site-packages, as a system Python without Pillow or nnabla
    result = subprocess.run([sys.executable, "-S", str(SCRIPT)], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    command = ".venv/bin/python scripts/make_digits_dataset.py"
    assert command in result.stderr
    assert command in " ".join(README.split())  # the README's command is the one it says


def test_it_writes_where_the_readme_says_and_the_readmes_run_reads_it(tmp_path):
    default = re.search(r'"--out", type=Path, default=Path\("([^"]+)"\)', SCRIPT.read_text())
    readme = " ".join(README.split())
    assert f"`{default.group(1)}/digits.csv`" in readme
    assert f"`{default.group(1)}/images/`" in readme
    result = subprocess.run([sys.executable, str(SCRIPT), "--rows", "12"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    out = Path(default.group(1))
    assert result.stdout == f"wrote {out / 'digits.csv'} (12 rows; images in {out / 'images'})\n"
    rows = (tmp_path / out / "digits.csv").read_text().splitlines()
    assert rows[0] == "x:image,y:label" and len(rows) == 13
    (tmp_path / "demo").symlink_to(ROOT / "demo")
    run = re.search(r"`\.venv/bin/xaikit (run smoothgrad -m demo/digits\.nnp -i "
                    r"build/digits/digits\.csv -o build/digits/smoothgrad\.csv)`", readme)
    command = [str(Path(sys.executable).parent / "xaikit")] + run.group(1).split()
    result = subprocess.run(command + ["-n", "2", "--seed", "0"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "build/digits/smoothgrad.csv").read_text().splitlines()
    assert written[0].startswith("SmoothGrad,x:image,y:label") and len(written) == 13
