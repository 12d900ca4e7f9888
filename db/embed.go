// Package db holds the schema migrations and the SQL queries that sqlc compiles into gen/db.
package db

import (
	"embed"
	"strconv"
	"strings"
)

// Migrations are the golang-migrate files, embedded so the binary migrates without a separate CLI.
// River's migrations among them (0000NN_river_*) are written by db/rivergen.
//
//go:generate go run ./rivergen
//go:embed migrations/*.sql
var Migrations embed.FS

// LatestMigration is the version of the newest embedded migration: the schema this binary needs.
func LatestMigration() int64 {
	files, _ := Migrations.ReadDir("migrations") // embedded: cannot fail
	var latest int64
	for _, f := range files {
		digits, _, _ := strings.Cut(f.Name(), "_")
		if v, err := strconv.ParseInt(digits, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}
