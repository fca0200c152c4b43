# The help-desk bot in one container: python -m bot run, data and knowledge in volumes.
#   docker build -t xa-helpdesk .
#   docker run -d --name helpdesk -p 127.0.0.1:8080:8080 -v helpdesk-data:/app/data \
#     -v helpdesk-knowledge:/app/knowledge --env-file secrets.env xa-helpdesk
# See docs/operations.md (reverse proxy, backups, upgrades).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin helpdesk
COPY --chown=10001:10001 knowledge ./knowledge
COPY --chown=10001:10001 config.yaml ./config.yaml
# Inside a container the server listens on every interface; the proxy in front decides what is public.
RUN sed -i 's/^  host: 127.0.0.1/  host: 0.0.0.0/' config.yaml \
 && mkdir -p /app/data && chown 10001:10001 /app/data

USER 10001
VOLUME ["/app/data", "/app/knowledge"]
EXPOSE 8080
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run", "--config", "/app/config.yaml"]
