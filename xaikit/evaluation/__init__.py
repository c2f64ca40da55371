"""Evaluating explainers: metrics over images, a report, its summary and curves."""
