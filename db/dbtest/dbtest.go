// Package dbtest gives each test its own PostgreSQL database, cloned from a template
// that is migrated once per schema version.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // driver

	"paymend/db"
	"paymend/migrations"
)

// DefaultURL is the `make db` cluster.
const DefaultURL = "postgres://paymend@127.0.0.1:54329/paymend?sslmode=disable"

// BaseURL is the server tests run against: PAYMEND_TEST_DATABASE_URL, else DefaultURL.
func BaseURL() string {
	if u := os.Getenv("PAYMEND_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// New creates a fresh, migrated database for t and drops it when t ends. It returns
// an open pool and the database's URL (for code under test that opens its own).
func New(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, tpl := adminAndTemplate(t, ctx)
	defer admin.Close()
	name := "paymend_t_" + randHex(8)
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	u := WithDatabase(BaseURL(), name)
	d, err := db.Open(ctx, u)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		d.Close()
		a, err := sql.Open("postgres", BaseURL())
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return d, u
}

// adminAndTemplate connects to the server and makes sure the migrated template exists.
func adminAndTemplate(t testing.TB, ctx context.Context) (*sql.DB, string) {
	t.Helper()
	admin, err := sql.Open("postgres", BaseURL())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("dbtest: PostgreSQL at %s does not answer (run `make db`): %v", BaseURL(), err)
	}
	tpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		admin.Close()
		t.Fatalf("dbtest: template: %v", err)
	}
	return admin, tpl
}

// WithDatabase returns u with its database name replaced.
func WithDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

// ensureTemplate creates and migrates the template database for the current set of
// migrations, once, under an advisory lock shared by concurrent test processes.
func ensureTemplate(ctx context.Context, admin *sql.DB) (string, error) {
	h := sha256.New()
	files, _ := fs.Glob(migrations.FS, "*.sql")
	sort.Strings(files)
	for _, f := range files {
		b, _ := fs.ReadFile(migrations.FS, f)
		h.Write([]byte(f))
		h.Write(b)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	name := "paymend_tpl_" + sum

	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727274)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	_, _ = conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	td, err := sql.Open("postgres", WithDatabase(BaseURL(), building))
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx, td)
	td.Close()
	if err != nil {
		return "", err
	}
	// Rename only when complete, so a crashed run never leaves a half-built template.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Keep returns a database that outlives the test run, created from the template on
// first use and reused afterwards (benchmarks keep a million-row data set this way).
// fresh is true when it was just created. The name includes the schema version.
func Keep(t testing.TB, name string) (*sqlx.DB, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, tpl := adminAndTemplate(t, ctx)
	defer admin.Close()
	full := "paymend_keep_" + name + "_" + tpl[len("paymend_tpl_"):]
	var exists bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, full).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, full, tpl)); err != nil {
			t.Fatalf("dbtest: create database: %v", err)
		}
	}
	u := WithDatabase(BaseURL(), full)
	d, err := db.Open(ctx, u)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, u, !exists
}
