package handlers

import (
	"net/url"

	"paymend/db"
	"paymend/domain"
)

// ParseTxQueryForBench exposes the list filter parser to the benchmarks.
func ParseTxQueryForBench(q url.Values, m domain.Merchant, cat *domain.Catalog) db.TxFilter {
	return parseTxQuery(q, m, cat, "failed").Filter
}
