# oomguard admission webhook image: `oomguard serve`, as run by charts/oomguard.
#
#   docker build -t oomguard:0.1.0 .      (the tag is cli/__init__.py's __version__)
#
# Stage 1 builds the wheel from the sources (the same wheel as `python -m build`,
# tests/test_dockerfile.py compares them); stage 2 installs only that wheel, its dependencies
# at the versions the test suite ran with (constraints/test.txt), into a clean slim image and
# runs it as a non-root numeric UID. Nothing at run time needs a shell: the entrypoint is the
# exec-form console script. How to build, push and install with the chart: docs/install.md.

# Pinned by digest (the multi-arch index of the tag; a tag can be re-pushed). To move to a
# newer Python: docker buildx imagetools inspect python:3.12.X-slim-bookworm
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY cli/ cli/
COPY rules/ rules/
COPY linter/ linter/
COPY webhook/ webhook/
COPY constraints/test.txt /dist/constraints.txt
RUN python -m pip wheel --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /dist/ /tmp/dist/
RUN python -m pip install -c /tmp/dist/constraints.txt /tmp/dist/oomguard-*.whl \
    && rm -rf /tmp/dist \
    && oomguard --version
LABEL org.opencontainers.image.title="oomguard" \
      org.opencontainers.image.description="Admission webhook that stops OOMKills caused by memory misconfiguration" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/oomguard/oomguard"
# Numeric UID/GID (65532, "nonroot"): Kubernetes' runAsNonRoot can verify it without
# /etc/passwd; the chart's securityContext uses the same IDs.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8443
ENTRYPOINT ["oomguard", "serve"]
CMD ["--cert", "/etc/oomguard/tls/tls.crt", "--key", "/etc/oomguard/tls/tls.key", "--port", "8443"]
