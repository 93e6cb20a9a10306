"""FG-Text: the dataset library shared by the annotator and FG-SGL training."""
