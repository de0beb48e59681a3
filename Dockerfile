# The production image: one static binary; `recurring api`, `recurring worker` and
# `recurring migrate` are chosen by the container's command. Built with -tags nodev,
# so it carries neither the embedded Temporal server nor its Web UI (`recurring dev`
# and `recurring bench` are for development machines): the binary is about 44 MB
# instead of 170 MB.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build context has no .git (.dockerignore): the version and commit come in as
# build arguments (docker compose passes RECURRING_VERSION and RECURRING_COMMIT).
ARG VERSION=dev
ARG COMMIT=unknown
# modernc.org/sqlite is pure Go, so the binary needs no C library.
RUN CGO_ENABLED=0 go build -trimpath -tags nodev \
    -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/recurring ./cmd/recurring

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/recurring /usr/local/bin/recurring
USER nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/recurring"]
CMD ["api"]
