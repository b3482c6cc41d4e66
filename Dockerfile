# The Switchyard host as a container. Build: `docker build -t switchyard .`
# Run: `docker run -p 8080:8080 -v switchyard-data:/var/lib/switchyard switchyard`
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p switchyard

FROM debian:bookworm-slim
COPY --from=build /src/target/release/switchyard /usr/local/bin/switchyard
COPY routes.toml /etc/switchyard/routes.toml
VOLUME /var/lib/switchyard
EXPOSE 8080
# Listen on all interfaces inside the container; the data dir is the volume.
ENTRYPOINT ["switchyard"]
CMD ["up", "--routes", "/etc/switchyard/routes.toml", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/switchyard"]
