"""brainsnn: Brian2-based spiking-neural-network classification experiments."""

__version__ = "0.1.0"

__all__ = ["open_results"]


def __getattr__(name: str):
    # Imported on first use: ``import brainsnn`` (done by the CLI) loads neither xarray nor Brian2.
    if name == "open_results":
        from brainsnn.analysis.loading import open_results

        return open_results
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
