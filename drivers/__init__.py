"""Hardware backends and the simulated device. Knows nothing of ``rig``."""
