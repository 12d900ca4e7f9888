// Package api is generated from openapi.yaml: wire types, the Echo strict server interface, a client,
// and the embedded spec. Do not edit api.gen.go or openapi.yaml here; change ../../openapi.yaml and
// run `make generate`.
package api

import _ "embed" // for SpecYAML

//go:generate go tool oapi-codegen -config config.yaml ../../openapi.yaml
//go:generate go tool oapi-codegen -config spec.yaml ../../openapi.yaml
//go:generate cp ../../openapi.yaml openapi.yaml

// SpecYAML is openapi.yaml byte for byte, as the server serves it at /openapi.yaml.
//
//go:embed openapi.yaml
var SpecYAML []byte
