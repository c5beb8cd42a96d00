# One image for every Emporium service: `emporium serve <service>` picks the role.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p emporium \
 && strip target/release/emporium

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/emporium --create-home emporium
COPY --from=build /src/target/release/emporium /usr/local/bin/emporium
COPY schema.graphql /etc/emporium/schema.graphql
USER emporium
WORKDIR /var/lib/emporium
ENV EMPORIUM_BIND_HOST=0.0.0.0 \
    EMPORIUM_SUPERGRAPH=/etc/emporium/schema.graphql \
    EMPORIUM_DATA_DIR=/var/lib/emporium \
    EMPORIUM_LOG_FORMAT=json
ENTRYPOINT ["emporium"]
CMD ["up"]
