"""mango-pl: gradient-free most-exciting-image search for spiking and ordinary networks."""

__version__ = "0.1.0"
