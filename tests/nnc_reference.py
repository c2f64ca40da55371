"""NNC's SmoothGrad loop, one noisy copy at a time: what the kernel is checked against."""

import numpy as np
from nnabla.utils.nnp_graph import NnpLoader

from xaikit.engine.backend import nn
from xaikit.engine.noise import host_copies


def reference_gradients(path, image, class_index, noise_level, num_samples, seed, score="output"):
    """NNC's loop: batch size 1, one noisy copy per forward/backward, every gradient zeroed
    first. The noisy copies are the ones the kernel draws, on the host."""
    with nn.parameter_scope(f"reference_{path.stem}"):
        net = NnpLoader(str(path)).get_network("MainRuntime", batch_size=1)
    x, y = net.inputs["Input"], next(iter(net.outputs.values()))
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
        grads.append(np.array(x.g[0], dtype=np.float64))
    return np.stack(grads)
