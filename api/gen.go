package api

// openapi.yaml is the source of truth for the API: its types, the server interface and
// the Echo routing are generated from it.
//go:generate go tool oapi-codegen -config oapi-codegen.yaml openapi.yaml
