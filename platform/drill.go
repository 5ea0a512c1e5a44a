package platform

import (
	"context"
	"encoding/json"
)

// BurstRequest asks the sandbox platform for a burst of failed payments — the
// "large outage" a drill rehearses. It is a sandbox control, not part of the real
// platform's API (CONTRACT.md: POST /_sandbox/burst).
type BurstRequest struct {
	MerchantCode string `json:"merchant_code"`
	Code         string `json:"code"`
	Count        int    `json:"count"`
	Seconds      int    `json:"seconds"`
}

// SandboxBurst asks the sandbox for a burst. It is tried once: a burst is not
// idempotent, and a drill records a failed request rather than sending two.
func (c *Client) SandboxBurst(ctx context.Context, r BurstRequest) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var out map[string]any
	_, err = c.attempt(ctx, "POST", "/_sandbox/burst", "", body, &out)
	return err
}
