// Package api is generated from openapi.yaml: wire types, the Echo strict server interface, a client,
// and the embedded spec. Do not edit api.gen.go; change openapi.yaml and run `make generate`.
package api

//go:generate go tool oapi-codegen -config config.yaml ../../openapi.yaml
