"""Unsupervised WTA-STDP classifiers: encodings, label assignment, engine."""
