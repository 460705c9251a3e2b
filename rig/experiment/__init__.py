"""Running an experiment: assembly, runner, windowed run, NI rig, selftest, keys, control endpoint."""
