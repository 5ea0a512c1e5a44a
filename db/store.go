// Package db is PayMend's PostgreSQL store. Every method that touches tenant data
// takes the merchant id right after the context and filters on it.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"paymend/domain"
	"paymend/migrations"
)

// Errors callers can test for with errors.Is.
var (
	ErrNotFound  = domain.ErrNotFound
	ErrDuplicate = errors.New("duplicate")
	ErrConflict  = errors.New("conflict: state changed")
)

// Store runs queries on a database handle or inside a transaction.
type Store struct {
	x  sqlx.ExtContext
	db *sqlx.DB // nil inside a transaction
	tx *sqlx.Tx // nil outside a transaction
	// stmts holds prepared statements of hot paths by SQL text (see prepared).
	stmts *sync.Map
}

// Open connects to PostgreSQL with sensible pool limits and checks the connection.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	d, err := sqlx.Open("postgres", withBinaryParameters(url))
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	d.SetMaxOpenConns(40)
	d.SetMaxIdleConns(40)
	d.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return d, nil
}

// withBinaryParameters asks lib/pq to send parameterised queries in one round trip
// (Parse, Bind and Execute together) instead of two; it halves the latency of every
// write on the webhook path. jsonb values must then be passed as strings, not []byte.
func withBinaryParameters(u string) string {
	if strings.Contains(u, "binary_parameters=") {
		return u
	}
	if strings.Contains(u, "://") {
		if strings.Contains(u, "?") {
			return u + "&binary_parameters=yes"
		}
		return u + "?binary_parameters=yes"
	}
	return u + " binary_parameters=yes"
}

// New returns a Store over d.
func New(d *sqlx.DB) *Store { return &Store{x: d, db: d, stmts: &sync.Map{}} }

// DB returns the underlying pool (nil inside a transaction).
func (s *Store) DB() *sqlx.DB { return s.db }

// Tx returns the open *sql.Tx when s runs inside a transaction, for River's InsertTx.
func (s *Store) Tx() *sql.Tx {
	if s.tx == nil {
		return nil
	}
	return s.tx.Tx
}

// InTx runs fn in one transaction; fn's error rolls it back.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(&Store{x: tx, tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapErr(tx.Commit())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.x.QueryRowxContext(ctx, "SELECT 1").Scan(&one)
}

// mapErr turns driver errors into the package's sentinel errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrDuplicate, pe.Constraint)
	}
	return err
}

// Migrate applies PayMend's goose migrations and River's own tables.
func Migrate(ctx context.Context, d *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectPostgres, d, migrations.FS)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	m, err := rivermigrate.New(riverdatabasesql.New(d), nil)
	if err != nil {
		return fmt.Errorf("db: river migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("db: river migrate: %w", err)
	}
	return nil
}
