// Package db holds the schema migrations and the SQL queries that sqlc compiles into gen/db.
package db

import "embed"

// Migrations are the golang-migrate files, embedded so the binary migrates without a separate CLI.
//
//go:embed migrations/*.sql
var Migrations embed.FS
