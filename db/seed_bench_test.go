package db_test

import (
	"context"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
)

// BenchmarkSeedDemo measures the demo seeder: b.N payments per run, reported as rows/s.
func BenchmarkSeedDemo(b *testing.B) {
	d, _ := dbtest.New(b)
	s := db.New(d)
	ctx := context.Background()
	m, err := s.CreateMerchant(ctx, domain.Merchant{Code: "bench", Name: "bench"}, []string{})
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	sealer, _ := domain.NewSealer(key)
	b.ResetTimer()
	start := time.Now()
	n, err := s.SeedDemoTransactions(ctx, m.ID, db.DemoSeed{N: b.N, Now: time.Now(), Seed: 1, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}
