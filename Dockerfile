# One image for every role: `cellmon serve` (API, /ws, dashboard) and `cellmon worker`.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY cellmon ./cellmon
RUN python -m venv /opt/cellmon && /opt/cellmon/bin/pip install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/cellmon --create-home cellmon
COPY --from=build /opt/cellmon /opt/cellmon
ENV PATH=/opt/cellmon/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CELLMON_HOST=0.0.0.0 \
    CELLMON_PORT=8000 \
    CELLMON_DATA_DIR=/var/lib/cellmon \
    CELLMON_LOG_FORMAT=json
USER cellmon
WORKDIR /var/lib/cellmon
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"
ENTRYPOINT ["cellmon"]
CMD ["serve"]
