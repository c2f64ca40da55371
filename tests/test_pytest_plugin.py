"""xaikit's pytest plugin: its fixtures work, and loading it at pytest's start imports
neither xaikit nor nnabla (about 0.4 s in every pytest run of any project)."""

import os
import subprocess
import sys

SUITE = '''
import sys

def test_nothing_of_xaikit_is_imported_before_a_fixture_is_used(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("xaikit")  # the entry point was loaded
    assert not [m for m in ("xaikit", "nnabla") if m in sys.modules]

def test_the_fixtures_import_xaikit_when_used(tiny_model, tiny_image):
    assert tiny_model.input_shape == (1, 8, 8) and tiny_image.suffix == ".png"
    assert "xaikit" in sys.modules and "nnabla" in sys.modules
'''


def test_the_plugin_imports_xaikit_only_when_a_fixture_is_used(tmp_path):
    (tmp_path / "test_fixtures.py").write_text(SUITE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tmp_path / "test_fixtures.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items()
             if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
