"""NNC's SmoothGrad loop, one noisy copy at a time: what the kernel is checked against."""

import numpy as np
from nnabla.utils.nnp_graph import NnpLoader

from xaikit.engine.backend import nn
from xaikit.engine.noise import host_copies


def reference_gradients(path, image, class_index, noise_level, num_samples, seed, score="output",
                        layer_index=0):
    """NNC's loop: batch size 1, one noisy copy per forward/backward, every gradient zeroed
    first; the gradient of the variable at ``layer_index`` in NNC's numbering (0: the
    input). The noisy copies are the ones the kernel draws, on the host."""
    with nn.parameter_scope(f"reference_{path.stem}"):
        net = NnpLoader(str(path)).get_network("MainRuntime", batch_size=1)
    x, y = net.inputs["Input"], next(iter(net.outputs.values()))
    target = net.variables[nnc_variable_names(path)[layer_index]]
    if score == "logit":
        y = y.parent.inputs[0]
    selected = y[:, class_index]
    grads = []
    for noisy in host_copies(image, noise_level, seed, num_samples):
        x.d = noisy[None]
        for v in net.variables.values():
            v.need_grad = True
            v.grad.zero()
        selected.forward()
        selected.grad.zero()
        selected.backward()
        grads.append(np.array(target.g[0], dtype=np.float64))
    return np.stack(grads)


def nnc_variable_names(path):
    """The names NNC's plugins number with ``--layer_index``: the keys of the executor's
    network's variables, as ``nnabla.utils.load`` gives them to the plugins."""
    from nnabla.utils.load import load

    with nn.parameter_scope(f"reference_load_{path.stem}"):
        info = load([str(path)], prepare_data_iterator=False)
    return list(next(iter(info.executors.values())).network.variables)


def reference_grey_image(attribution):
    """NNC's grey image of a map: |map| summed over channels, its 1st and 99th percentiles
    scaled to 0 and 1, clipped, times 255 and cast (truncating) to uint8, in the map's dtype."""
    summed = np.sum(np.abs(attribution), axis=0)
    high, low = np.percentile(summed, 99), np.percentile(summed, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.clip((summed - low) / (high - low), 0, 1) * 255).astype(np.uint8)
