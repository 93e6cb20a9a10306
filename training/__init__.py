"""FG-SGL training (lands with the training issue)."""
