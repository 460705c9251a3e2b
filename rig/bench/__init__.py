"""Every benchmark (`rig bench`), `rig validate-sim` and the synthetic fixtures they use."""
