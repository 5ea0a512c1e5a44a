// Package static embeds PayMend's CSS, scripts and vendored htmx.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

// FS holds the static files, served under /static/.
//
//go:embed *.css *.js vendor
var FS embed.FS

// versions maps a file to a short content hash, computed once, for cache busting.
var versions = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		m[p] = hex.EncodeToString(s[:4])
		return nil
	})
	return m
}()

// URL returns the versioned URL of a static file, e.g. "/static/app.css?v=1a2b3c4d".
func URL(name string) string {
	if v, ok := versions[name]; ok {
		return "/static/" + name + "?v=" + v
	}
	return "/static/" + name
}
