"""brainsnn: Brian2-based spiking-neural-network classification experiments."""

__version__ = "0.1.0"
