"""The annotation web app: FastAPI factory (`annotator.app.create_app`), JSON API under
/api/v1, media streaming, and the `fgtext-annotator` command. Persistence is `fgtext.store`."""
