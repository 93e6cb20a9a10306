"""FG-SGL training: the model, its losses and the run on the Hugging Face Trainer (`fgsgl-train`).

Installed with the `train` extra; `fgtext` never imports it."""
