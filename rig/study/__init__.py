"""Planned studies: how many slices a comparison needs (``rig power``), run serially or on Dask."""
