"""Scale benchmarks of the streaming engine against the obvious design (see README.md)."""
