# The production image: one static binary; `recurring api`, `recurring worker` and
# `recurring migrate` are chosen by the container's command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc.org/sqlite is pure Go, so the binary needs no C library.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/recurring ./cmd/recurring

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/recurring /usr/local/bin/recurring
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/recurring"]
CMD ["api"]
