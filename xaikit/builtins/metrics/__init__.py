"""Evaluation metrics that ship with xaikit, registered through the plugin hooks."""
