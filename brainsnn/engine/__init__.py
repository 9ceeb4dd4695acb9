"""Build readout networks from model files and run them chunk by chunk on a Brian2 device."""
