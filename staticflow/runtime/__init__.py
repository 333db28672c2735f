"""Session, plans, the executor, and the NumPy reference evaluator."""
