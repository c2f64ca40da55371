"""The nnabla engine: loaded models and their graphs, batched gradient passes in threads,
devices and seeded noisy copies."""
