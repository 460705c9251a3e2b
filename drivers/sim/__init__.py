"""The simulated device: a sample-clocked DAQ with a virtual hippocampal slice attached."""
