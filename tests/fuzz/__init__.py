"""The fuzz harness: seeds, structure-aware mutations, worker processes, outcome classes."""
