package db

import (
	"embed"
	"regexp"
	"strings"
)

//go:embed queries/*.sql
var queryFiles embed.FS

var queryName = regexp.MustCompile(`^-- name: (\w+) :\w+`)

// Queries answers every named query of db/queries as sqlc reads it: the text between its
// "-- name:" line and the next, without comment lines, with sqlc's parameter markers still in.
// The benchmark runs these very texts through pgbench, and the plan tests through EXPLAIN.
func Queries() map[string]string {
	out := map[string]string{}
	files, _ := queryFiles.ReadDir("queries") // embedded: cannot fail
	for _, f := range files {
		b, _ := queryFiles.ReadFile("queries/" + f.Name())
		var cur string
		var text []string
		flush := func() {
			if cur != "" {
				out[cur] = strings.TrimSpace(strings.Join(text, "\n"))
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := queryName.FindStringSubmatch(line); m != nil {
				flush()
				cur, text = m[1], nil
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			text = append(text, line)
		}
		flush()
	}
	return out
}

// paramRef matches sqlc's parameter markers: @name, sqlc.arg(name) and sqlc.narg(name).
var paramRef = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)|@(\w+)`)

// BindParams rewrites a query's parameter markers with bind(name) and sqlc.embed(t) as t.*, the
// SQL PostgreSQL itself accepts. A name bind does not know is reported in missing.
func BindParams(query string, bind func(name string) (string, bool)) (sql string, missing []string) {
	sql = paramRef.ReplaceAllStringFunc(query, func(m string) string {
		sub := paramRef.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		expr, ok := bind(name)
		if !ok {
			missing = append(missing, name)
		}
		return expr
	})
	return embedRef.ReplaceAllString(sql, "$1.*"), missing
}

var embedRef = regexp.MustCompile(`sqlc\.embed\((\w+)\)`)
