package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestOrdersAPI(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	post := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if s, out := post(`{"order_id":"O1","status":"paid","amount":12900,"currency":"CNY","updated_at":"2026-11-25T10:00:00Z"}`); s != http.StatusAccepted {
		t.Fatalf("single: %d %v", s, out)
	}
	// A batch with a newer and an older report for O1, in that order: the newest wins.
	s, _ := post(`{"orders":[
		{"order_id":"O1","status":"completed","amount":12900,"currency":"CNY","updated_at":"2026-11-25T10:05:00Z"},
		{"order_id":"O2","status":"created","amount":500,"currency":"CNY","updated_at":"2026-11-25T10:00:00Z"}]}`)
	if s != http.StatusAccepted {
		t.Fatalf("batch: %d", s)
	}
	post(`{"order_id":"O1","status":"created","amount":12900,"currency":"CNY","updated_at":"2026-11-25T09:00:00Z"}`)
	o, err := e.store.Order(t.Context(), e.m["alpha"].ID, "O1")
	if err != nil || o.Status != "completed" {
		t.Fatalf("O1 = %+v %v", o, err)
	}
	// One invalid order: nothing from the batch is stored, each problem is named.
	s, out := post(`{"orders":[
		{"order_id":"O3","status":"paid","amount":1,"currency":"CNY","updated_at":"2026-11-25T10:00:00Z"},
		{"order_id":"O4","status":"shipped","amount":1,"currency":"CNY","updated_at":"2026-11-25T10:00:00Z"}]}`)
	if s != http.StatusUnprocessableEntity || !strings.Contains(toJSON(out), "O4") {
		t.Fatalf("invalid batch: %d %v", s, out)
	}
	if _, err := e.store.Order(t.Context(), e.m["alpha"].ID, "O3"); err == nil {
		t.Fatal("half a batch was stored")
	}
	if s, _ := post(`{"order_id":`); s != http.StatusBadRequest {
		t.Fatalf("bad json: %d", s)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
