# descentlab: the engine + REST service, served by gunicorn with every kernel compiled at build time.
#
#   docker build -t descentlab .
#   docker run --rm -p 8000:8000 descentlab          # then: curl localhost:8000/healthz
#   docker-compose up --build                         # 3 replicas behind nginx on :8080
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # compiled kernels live in the image; the process owner can write it (new CPU -> recompile)
    NUMBA_CACHE_DIR=/var/cache/descentlab/numba \
    HOST=0.0.0.0 \
    PORT=8000

# Numba's cache is keyed by the CPU it compiled for. Set NUMBA_CPU_NAME=generic when the image
# is built on one machine and run on others (portable code, a little slower); the same value
# is baked in as ENV so build-time and run-time keys agree.
ARG NUMBA_CPU_NAME=
ENV NUMBA_CPU_NAME=${NUMBA_CPU_NAME}

# Install the package (not editable) from a throw-away copy of the source.
COPY pyproject.toml README.md /src/
COPY engine /src/engine
COPY service /src/service
RUN pip install /src && rm -rf /src

# Warm the cache: compile every kernel now, as the user that will run the service.
RUN useradd --system --no-create-home --shell /usr/sbin/nologin descentlab \
 && mkdir -p "$NUMBA_CACHE_DIR" && chown descentlab "$NUMBA_CACHE_DIR"
USER descentlab
WORKDIR /tmp
RUN python -c "import engine, json; print('warm-up seconds:', json.dumps(engine.warm_kernels()))"

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"

# Settings come from the environment: WEB_CONCURRENCY, NUMBA_NUM_THREADS, GUNICORN_TIMEOUT, ...
CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "service:create_app()"]
