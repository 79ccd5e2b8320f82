# provisioner: a slim, non-root image; dependencies pinned by the lock file.
#   uv export --frozen --no-dev --no-emit-project -o requirements.txt   (from uv.lock)
#   docker build -t provisioner .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY provisioner ./provisioner
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin provisioner
COPY requirements.txt deploy/install.sh /tmp/install/
COPY --from=build /wheels /tmp/install/wheels
RUN sh /tmp/install/install.sh /tmp/install/requirements.txt /tmp/install/wheels/provisioner-*.whl \
    && rm -rf /tmp/install
USER 10001
WORKDIR /home/provisioner
ENTRYPOINT ["provisioner"]
CMD ["--help"]
