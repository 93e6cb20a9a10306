# The annotation web app (fgtext-annotator), without the training extra.
#   docker build -t fgtext-annotator .
#   docker run -e FGTEXT_SECRET_KEY=... -e FGTEXT_DATABASE_URL=postgresql://... -v $PWD/media:/media fgtext-annotator
# docker-compose.yml runs it with PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
# A regular (non-editable) install: the app must not depend on the source tree.
RUN pip install . && cd / && rm -rf /src \
    && useradd --create-home --uid 10001 fgtext \
    && mkdir -p /media && chown fgtext /media

USER fgtext
WORKDIR /home/fgtext
ENV FGTEXT_ENV=production \
    FGTEXT_MEDIA_ROOT=/media
VOLUME ["/media"]
EXPOSE 8000

CMD ["fgtext-annotator", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
