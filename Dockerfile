# One image for every ODR process: app nodes (`odr serve`, the default), the job worker
# (`odr worker`) and one-shot commands (`odr migrate`, `odr create-user`, ...).
# See docker-compose.yml and deploy/README.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# No apt packages: asyncpg and argon2-cffi (and later aiortc and PyAV, which bundle FFmpeg)
# come as manylinux wheels, and the base image already has tzdata (ODR_TIMEZONE) and
# ca-certificates.

# A fixed numeric uid, so orchestrators can check "not root" and volumes can be chowned.
RUN groupadd --system --gid 10001 odr \
 && useradd --system --uid 10001 --gid odr --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin odr \
 && mkdir -p /app /data/var /data/evidence /data/recordings \
 && chown -R odr:odr /app /data

# Build from a scratch directory (pip builds in place and leaves build/ and *.egg-info
# behind), then drop it: only the installed package stays in the image.
# README.md is the project's `readme`, which the build backend reads.
COPY pyproject.toml README.md /tmp/odr-src/
COPY odr /tmp/odr-src/odr
COPY signaling /tmp/odr-src/signaling
COPY web /tmp/odr-src/web
RUN pip install --no-cache-dir /tmp/odr-src \
 && rm -rf /tmp/odr-src \
 && mkdir -p /app/model \
 && odr triage-train --out /app/model/triage-model.json

WORKDIR /app

ENV ODR_MODE=production \
    ODR_HOST=0.0.0.0 \
    ODR_PORT=8080 \
    ODR_VAR_DIR=/data/var \
    ODR_STORAGE_DIR=/data/evidence \
    ODR_RECORDINGS_DIR=/data/recordings \
    ODR_TRIAGE_MODEL=/app/model/triage-model.json

# Declared after the chown above, so a new named volume starts out owned by odr.
VOLUME /data

USER 10001:10001

EXPOSE 8080

# Liveness only (/readyz also needs the database and Redis; compose checks that for app
# nodes). Python rather than curl, which the slim image lacks; urlopen raises on non-2xx.
# Services that run something other than `odr serve` (worker, migrate) turn this off.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ODR_PORT', '8080'), timeout=4)"]

CMD ["odr", "serve"]
