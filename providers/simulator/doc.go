// Package simulator is an in-process payment provider for development, tests and load
// tests. It behaves like a real provider where the engine's correctness depends on it —
// idempotency keys, stored-credential data, decline codes, timeouts — and is
// deterministic: the card number decides the outcome.
//
// # Test cards
//
// Any expiry date in the future and any CVC work. Declines happen when charging, never
// when saving, so a plan can be created with a card that will fail later.
//
//	number            brand       charge outcome                                    class / code
//	4242424242424242  visa        succeeds                                          –
//	5555555555554444  mastercard  succeeds                                          –
//	4000000000000002  visa        generic decline (Visa 05)                         soft / card_declined
//	4000000000009995  visa        insufficient funds (Visa 51)                      soft / insufficient_funds
//	4000000000000069  visa        expired card (Visa 54)                            hard / card_expired
//	4000000000009987  visa        lost card (Visa 41)                               hard / lost_card
//	4000000000009979  visa        stolen card (Visa 43)                             hard / stolen_card
//	4100000000000019  visa        pick up card (Visa 04)                            hard / card_blocked
//	4000000000001307  visa        generic decline with Visa R1 (revoked)            hard / authorization_revoked
//	4000000000000119  visa        processing error on the first attempt of each     transient / processing_error,
//	                              idempotency key; the retry with that key succeeds then success
//	4000000000000259  visa        never answers: blocks until the call's deadline   transient / timeout
//	4000000000000341  visa        first charge succeeds, every later one declines   soft / insufficient_funds
//	4000002500003155  visa        every charge requires 3-D Secure; an initial      authentication_required
//	                              payment authenticated on the hosted page succeeds
//	5200000000000247  mastercard  insufficient funds, advice code 24 (retry in 1h)  soft / insufficient_funds, RetryAfter 1h
//	5200000000000213  mastercard  generic decline, advice code 21 (cancelled)       hard / authorization_revoked
//	5100000000000040  mastercard  customer-initiated charges succeed; merchant-     hard / recurring_not_supported
//	                              initiated ones decline with advice code 40
//	                              (non-reloadable prepaid)
//
// Every other number that passes the Luhn check succeeds, so load tests can generate
// cards freely.
//
// # 3-D Secure
//
// The simulator is a providers.Authenticator (threeds.go). Every card not listed is
// authenticated frictionless. The challenge cards also decline a customer-initiated
// charge without a valid authentication proof (authentication_required), unless the
// payment is a MOTO order.
//
//	number            3-D Secure                 then
//	4000000000003220  challenge                  approve: succeeds; deny: authentication_failed
//	4000008260003178  challenge                  declined: insufficient funds, after authentication
//	4000002500003155  challenge                  initial payment succeeds; merchant-initiated
//	                                             charges decline authentication_required
//	4000000000003063  unavailable (not enrolled) charged unauthenticated, ECI 07
//
// Authentication ids and proofs are MACs over the token, amount and currency under the
// vault key: nothing is kept, and a proof for one charge does not fit another.
//
// # Idempotency
//
// The same idempotency key with the same request returns the first result — success or
// decline — and never charges twice; concurrent calls with one key wait for the first to
// finish. The same key with a different token, amount, currency or initiator fails with
// idempotency_conflict. Transient failures (timeouts, processing errors, the failure-rate
// knob) are not stored under the key, exactly so that the activity's retry with the same
// key executes again: that is how 4000000000000119 succeeds on its retry.
//
// # Vault
//
// A token is the card's data sealed with AES-256-GCM under a key derived from
// Options.VaultKey; the simulator keeps no card data in memory at all. With a stable key,
// tokens stay valid across restarts of `recurring dev`. The answers to idempotency keys
// survive a restart when Options.Journal is set (`recurring dev` and the worker keep
// them in the store's simulator_journal); without it they, like the charge ledger, are
// in memory and start empty.
//
// # Knobs
//
// Options.Latency (plus a seeded LatencyJitter) delays every call; Options.FailureRate
// makes that fraction of charges fail with a transient processing_error, drawn from a
// generator seeded by Options.Seed. Both exist for load tests; both honour the call's
// deadline.
package simulator
