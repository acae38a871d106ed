"""Slow, literal re-implementations of methods' formulas, used as test oracles."""
