"""staticflow's version, where every layer can read it (files it writes name their producer)."""

__version__ = "0.1.0"
