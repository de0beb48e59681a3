package billing

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes, one per resource, so an id names its kind.
const (
	PrefixMerchant        = "mer_"
	PrefixAPIKey          = "key_"
	PrefixCustomer        = "cus_"
	PrefixPaymentMethod   = "pm_"
	PrefixPlan            = "plan_"
	PrefixPayment         = "pay_"
	PrefixPaymentSession  = "ps_"
	PrefixEvent           = "evt_"
	PrefixWebhook         = "we_"
	PrefixProviderAccount = "pa_"
	PrefixRefund          = "re_"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns prefix followed by 128 random bits in lower-case base32. It reads
// crypto/rand, so workflow code must not call it (ids are made before a workflow starts).
func NewID(prefix string) string {
	return prefix + RandomToken(16)
}

// RandomToken returns n random bytes encoded in lower-case base32.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return strings.ToLower(idEncoding.EncodeToString(b))
}
