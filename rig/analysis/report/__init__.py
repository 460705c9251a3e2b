"""Results across experiments: time courses, group statistics, figures and report.html."""

from rig.analysis.report.build import Report, make_report
from rig.analysis.report.collect import Excluded, Experiment, collect, load_experiment

__all__ = ["Excluded", "Experiment", "Report", "collect", "load_experiment", "make_report"]
