"""K-fold cross-validation and grid searches: many protocol runs on Dask, then a summary.

* :mod:`~brainsnn.sweeps.tasks`: one fold or grid point, run in its own directory on a worker;
* :mod:`~brainsnn.sweeps.execute`: a Dask cluster (local worker processes or a running
  scheduler), progress, one retry per task, failures reported in one line each;
* :mod:`~brainsnn.sweeps.summary`: sweep directories (manifest, ``--resume``) and summary
  datasets;
* :mod:`~brainsnn.sweeps.kfold` and :mod:`~brainsnn.sweeps.grid`: the two kinds of sweep.

The CLI imports these modules (and so Dask) only when a sweep command runs.
"""
