"""Closed-loop decisions, each a small pure module the controller calls.

``io_fit``    Boltzmann fit of the I/O curve, pop-spike threshold, test-intensity rule.
``gate``      baseline stability criterion (drift by regression, halves comparison).
``alarms``    response lost, noise, saturation, fiber-volley change, sample gaps.
``tracking``  optional intensity tracking during the baseline (frozen before induction).
``keys``      terminal keys → operator commands when running headless.
``latency``   the closed-loop latency bench (``bench_loop``).
"""
