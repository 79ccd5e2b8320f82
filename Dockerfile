# provisioner: a slim, non-root image; dependencies pinned (with hashes) by the lock file.
#   docker build -t provisioner .
# The build stage builds the project's wheel; the image installs it with requirements.lock's
# runtime pins (every file hashed) through deploy/install.sh, the command
# tests/unit/test_deploy.py runs.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY provisioner ./provisioner
RUN mkdir /out && pip wheel --no-cache-dir --no-deps --wheel-dir /out .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin provisioner
COPY deploy/install.sh requirements.lock /tmp/install/
COPY --from=build /out /tmp/install/
RUN sh /tmp/install/install.sh /tmp/install/requirements.lock /tmp/install/provisioner-*.whl \
    && rm -rf /tmp/install
USER 10001
WORKDIR /home/provisioner
ENTRYPOINT ["provisioner"]
CMD ["--help"]
