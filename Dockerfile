# The Switchyard host as a container, with the default routes and their Rust plugins.
# Build: `docker build -t switchyard .`
# Run:   `docker run -p 8080:8080 -v switchyard-data:/var/lib/switchyard switchyard`
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN rustup target add wasm32-wasip2 \
 && cargo build --release --locked -p switchyard \
 && cd plugins/rust && cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/switchyard /usr/local/bin/switchyard
COPY routes.toml /etc/switchyard/routes.toml
# routes.toml names its plugins relative to itself.
COPY --from=build /src/target/wasm32-wasip2/release/high_value.wasm /src/target/wasm32-wasip2/release/customer_tier.wasm /src/target/wasm32-wasip2/release/notify.wasm /etc/switchyard/target/wasm32-wasip2/release/
VOLUME /var/lib/switchyard
EXPOSE 8080
# Listen on all interfaces inside the container; the data dir is the volume.
ENTRYPOINT ["switchyard"]
CMD ["up", "--routes", "/etc/switchyard/routes.toml", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/switchyard"]
