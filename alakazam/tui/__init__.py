"""The terminal application `alakazam-tui` (Textual). It drives the engine; the engine never imports it."""
