"""The attribution step of dataset runs: given the explainer, its parameters, the model and
a chunk's pixels, it returns each row's result and touches no file, so it can run
elsewhere; its arguments and results pickle."""

import builtins
import io
import pickle

import numpy as np
import pytest

import xaikit
from xaikit.datasets.attribute import Attributed, Refused, RowInput, attribute_chunk
from xaikit.plugin.manager import registry


class RefusesBlank(xaikit.Explainer):
    name = "refuses-blank"

    def explain(self, model, image, class_index, params):
        if image.max() == image.min():
            raise xaikit.ImageError("a blank image has no attribution", subject="image")
        return np.full(model.input_shape, class_index, np.float32)


def no_files(*args, **kwargs):
    raise AssertionError(f"a file was opened: {args}")


def test_a_chunk_is_attributed_without_files_and_pickles(models, monkeypatch):
    model = xaikit.load_model(models["grey"])
    explainer = registry().get("explainer", "smoothgrad")
    params = explainer.Params(num_samples=2, seed=0)
    rng = np.random.default_rng(0)
    rows = [RowInput(row, rng.random(model.input_shape, dtype=np.float32), row % 3)
            for row in (4, 7, 9)]
    explainer, params, rows = pickle.loads(pickle.dumps((explainer, params, rows)))
    expected = explainer.explain_batch(model, np.stack([r.pixels for r in rows]), [1, 1, 0],
                                       params)
    monkeypatch.setattr(builtins, "open", no_files)
    monkeypatch.setattr(io, "open", no_files)
    results = attribute_chunk(explainer, params, model, rows)
    monkeypatch.undo()
    results = pickle.loads(pickle.dumps(results))
    assert [(r.row, r.class_index) for r in results] == [(4, 1), (7, 1), (9, 0)]
    for row, result, values in zip(rows, results, expected):
        assert isinstance(result, Attributed)
        np.testing.assert_array_equal(result.attribution.values, values.values)
        assert result.attribution.metadata == values.metadata  # samples, stability, method...
        score = model.predict(row.pixels[None])[0, row.class_index]
        assert result.score == pytest.approx(float(score))


def test_a_refused_row_fails_alone(models):
    model = xaikit.load_model(models["grey"])
    pixels = np.random.default_rng(1).random(model.input_shape, dtype=np.float32)
    rows = [RowInput(0, pixels, 2), RowInput(1, np.zeros_like(pixels), 1), RowInput(2, pixels, 0)]
    results = attribute_chunk(RefusesBlank(), RefusesBlank.Params(), model, rows)
    assert results[1] == Refused(1, "image: a blank image has no attribution")
    assert [type(r) for r in results] == [Attributed, Refused, Attributed]
    assert [float(r.attribution.values.max()) for r in (results[0], results[2])] == [2.0, 0.0]
