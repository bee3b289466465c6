"""ALAKAZAM: radio-interferometric calibration on Measurement Sets."""

__version__ = "0.1.0"
