"""Running explainers on images and writing what they produce through sinks."""
