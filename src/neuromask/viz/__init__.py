"""Pictures: overlays, evolution strips, comparison grids and charts.

matplotlib is imported only in this package (with the non-interactive Agg backend), so
the rest of neuromask never needs a display.
"""
