"""The annotation web app (lands with the annotation-service issue)."""
