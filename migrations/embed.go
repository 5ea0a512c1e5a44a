// Package migrations embeds PayMend's goose SQL migrations.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
