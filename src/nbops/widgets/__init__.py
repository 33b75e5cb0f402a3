"""Plotly figures (pure) and ipywidgets dashboards; the entry point is ``nbops.show``."""
