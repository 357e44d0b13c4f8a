# o2g-flows in a container. The configuration and flows come from the host:
#   docker build -t o2g-flows .
#   docker run -d --name o2g-flows -v /etc/o2g-flows:/etc/o2g-flows:ro -v o2g-state:/state \
#              -p 127.0.0.1:8181:8181 o2g-flows
# with /etc/o2g-flows/o2g-flows.yaml naming the gateway, the password file and the flows
# (`o2g-flows init` writes a starter). `docker stop` sends SIGTERM: a clean stop, the state
# kept in the volume. CI has no Docker daemon: tests/app/test_wheel.py builds the wheel from
# exactly what the COPY lines take and runs it as CMD does; the image itself is not built.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY o2g_flows ./o2g_flows
COPY examples ./examples
COPY plugins ./plugins
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /state --create-home o2g-flows \
    && rm -rf /src
USER o2g-flows
WORKDIR /state
ENV XDG_STATE_HOME=/state
VOLUME ["/state"]
EXPOSE 8181
STOPSIGNAL SIGTERM
ENTRYPOINT ["o2g-flows"]
CMD ["run", "--config", "/etc/o2g-flows/o2g-flows.yaml"]
