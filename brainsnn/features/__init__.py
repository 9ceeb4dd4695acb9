"""The features kind: unsupervised feature extractors (STDP-CSNN) trained on raw images."""
