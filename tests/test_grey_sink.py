import numpy as np

from xaikit.builtins.sinks.grey import grey_map


def test_channels_are_summed_as_magnitudes_and_percentiles_scaled():
    rng = np.random.default_rng(0)
    attribution = rng.normal(size=(3, 20, 20)).astype(np.float32)
    out = grey_map(attribution)
    magnitude = np.abs(attribution).sum(axis=0)
    lo, hi = np.percentile(magnitude, [1, 99])
    assert out.dtype == np.uint8 and out.shape == (20, 20)
    assert (out[magnitude >= hi] == 255).all() and (out[magnitude <= lo] == 0).all()
    middle = (magnitude > lo) & (magnitude < hi)
    expected = np.round((magnitude[middle] - lo) / (hi - lo) * 255)
    np.testing.assert_array_equal(out[middle], expected)
    assert np.array_equal(grey_map(-attribution), out)


def test_constant_map_is_black_not_garbage():
    with np.errstate(all="raise"):  # black by choice, not by casting 0 / 0 to a byte
        for constant in (np.zeros((1, 5, 5)), np.full((3, 5, 5), 7.0)):
            out = grey_map(constant)
            assert out.dtype == np.uint8 and out.shape == (5, 5) and not out.any()


def test_sparse_map_falls_back_to_full_range():
    attribution = np.zeros((1, 20, 20))
    attribution[0, 3, 4] = 2.0  # percentiles 1 and 99 are both 0
    assert np.percentile(np.abs(attribution), 99) == 0
    out = grey_map(attribution)
    assert out[3, 4] == 255 and out.sum() == 255
