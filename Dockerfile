# newsflow: the worker, the indexer and every CLI command in one slim, non-root image.
#   docker build -t newsflow .     (docker-compose.yml builds it as the `newsflow` image)
# No torch/CUDA: camel-tools goes in with --no-deps (its text utilities need only the
# dependencies pyproject.toml lists), exactly as the Makefile installs it.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml constraints.txt README.md ./
COPY newsflow ./newsflow
COPY ingest ./ingest
COPY processors ./processors
# A regular install: the index template, taxonomy and gazetteers are package data.
RUN pip install -c constraints.txt . \
    && pip install --no-deps -c constraints.txt camel-tools

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="newsflow" \
      org.opencontainers.image.description="Arabic-first news ingestion: Kafka, Faust, Elasticsearch"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEWSFLOW_STACK_DIR=/var/lib/newsflow
RUN groupadd --system --gid 10001 newsflow \
    && useradd --system --uid 10001 --gid newsflow --home-dir /var/lib/newsflow \
       --create-home --shell /usr/sbin/nologin newsflow
COPY --from=build /opt/venv /opt/venv
# The bundled sample articles, where the README's `docker compose run` command names them.
COPY newsflow/samples/articles.jsonl /app/samples/articles.jsonl
WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/newsflow"]
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=4); sys.exit(0)"]
ENTRYPOINT ["newsflow"]
CMD ["worker"]
