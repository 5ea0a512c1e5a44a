package handlers_test

import (
	"context"
	"net/http"
	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/web"
	"testing"
	"time"
)

func BenchmarkDbgSeq(b *testing.B) {
	d, _ := dbtest.New(b)
	e := newEnvOn(b, db.New(d), func(c *web.Config) { c.APIPerMinute = 1_000_000 })
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	e.store.SeedDemoRiskRules(ctx, alpha, "CNY", e.clock.Now())
	key := "pm_live_bench_risk_key_0123456789"
	e.store.CreateAPIKey(ctx, alpha, "bench", key[:12], web.HashAPIKey(key), nil)
	client := &http.Client{}
	body := []byte(`{"customer_id":"C1","amount":100,"currency":"CNY","channel":"card","card_bin":"622202"}`)
	b.Run("http-check", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			post(b, client, e.srv.URL, key, body)
		}
	})
	b.Run("http-healthz", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, _ := client.Get(e.srv.URL + "/healthz")
			r.Body.Close()
		}
	})
	b.Run("http-codes-api", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/codes/101", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			r, _ := client.Do(req)
			r.Body.Close()
		}
	})
	b.Run("store-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			now := time.Now()
			e.store.APIKeyByHash(ctx, web.HashAPIKey(key), now)
			e.store.Merchant(ctx, alpha)
			e.store.HitRateLimit(ctx, "x", time.Minute, 100000, now)
			c := domain.RiskCheck{CustomerID: "C1", Amount: 1, Currency: "CNY", Channel: "card", CardBIN: "622202"}
			e.store.RiskRules(ctx, alpha, true)
			e.store.LogRiskDecision(ctx, alpha, c, domain.RiskResult{Decision: "allow"}, "[]", now)
		}
	})
}
