# The app's image: `shopify-app serve` by default; the same image runs `worker` and `migrate`
# (compose.yaml). docs/deploy.md says how to run it.
#
# PYTHON_IMAGE: any Debian-based image with Python 3.11+ as `python` (the official slim one by
# default; the build was tried here on a Python 3.11 image made from Debian's packages).
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# -- build: the virtualenv with every dependency, and the app installed into it ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /app
# The dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt
# The app reads templates/, migrations/ and extensions/ beside its package (a source tree, not
# site-packages), so it is installed in place (editable) at the path it keeps in the final image.
COPY shopify_app ./shopify_app
COPY webhooks ./webhooks
COPY templates ./templates
COPY migrations ./migrations
COPY extensions ./extensions
RUN /opt/venv/bin/pip install --no-deps -e . \
    && /opt/venv/bin/python -m compileall -q shopify_app webhooks

# -- runtime: the virtualenv and the source tree, run by an unprivileged user ------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# data/ (the SQLite default) and outbox/ (development's messages) are the only places written to.
RUN mkdir -p /app/data /app/outbox && chown app:app /app/data /app/outbox
# numeric, so a runtime can check it is not root (runAsNonRoot) without reading /etc/passwd
USER 10001:10001
EXPOSE 8000
# /healthz answers while the process serves (liveness); /readyz also asks the database, for a
# load balancer. The worker has no HTTP port: compose.yaml gives it its own check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# SIGTERM (Docker's stop signal): serve stops accepting and finishes requests in flight; worker
# starts nothing new, finishes its sends and gives back the rest; both then exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["shopify-app"]
CMD ["serve", "--host", "0.0.0.0"]
