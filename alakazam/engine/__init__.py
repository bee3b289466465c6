"""The calibration engine. Nothing here imports the terminal application (alakazam.tui) or Textual."""
