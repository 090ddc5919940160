"""Studies: many runs (variants × label fractions × seeds) compared in one table."""
