"""Demo data from the seed documents, and synthetic data sets for benchmarks."""
