"""Pictures: overlays, evolution strips, comparison grids and charts.

matplotlib is imported only in this package, and only as `Figure` objects on their own Agg
canvas (never pyplot, never `matplotlib.use`: a notebook's backend stays as it was), so
the rest of neuromask never needs a display.
"""
