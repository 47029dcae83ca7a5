# One image for the worker, the API and the simulator: `soar worker`, `soar api`, `soar simulator`
# (docker-compose.yml picks the command). Runtime dependencies only; no dev extras, no secrets:
# settings and credentials arrive as environment variables at run time.
FROM python:3.11.14-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system --gid 10001 soar \
 && useradd --system --uid 10001 --gid soar --home-dir /app --no-create-home --shell /usr/sbin/nologin soar

# Install the package (pyproject.toml: core, activities, workflows, api, simulator, cli, worker.py)
# from a scratch directory, so no source tree sits in the working directory at run time.
WORKDIR /build
COPY pyproject.toml README.md worker.py ./
COPY core ./core
COPY activities ./activities
COPY workflows ./workflows
COPY api ./api
COPY simulator ./simulator
COPY cli ./cli
COPY phantom ./phantom
RUN pip install --no-cache-dir . \
 && cd / && rm -rf /build

WORKDIR /app
# Example configuration; compose mounts ./config over it read-only. The installed package lives in
# site-packages, so the file locations are given explicitly. /data holds raw emails and other local
# state (a volume in compose, shared by the API and the workers).
COPY config ./config
COPY playbooks ./playbooks
RUN mkdir -p /data /keys/private /keys/public && chown -R soar:soar /data /keys && chmod 700 /keys/private
ENV SOAR_ASSETS_FILE=/app/config/assets.json \
    SOAR_TRIGGERS_FILE=/app/config/triggers.json \
    SOAR_USERS_FILE=/app/config/users.json \
    SOAR_PHANTOM_PLAYBOOKS_DIR=/app/playbooks/phantom \
    SOAR_GUARDRAILS_FILE=/app/config/guardrails.json \
    SOAR_DATA_DIR=/data

USER soar
EXPOSE 8000 8100

# No HEALTHCHECK here: the same image runs the worker, which serves no HTTP. docker-compose.yml
# gives the API and the simulator their own.
ENTRYPOINT ["soar"]
CMD ["--help"]
