package billing

// Store is every service the engine keeps state in. The store package implements it
// for Postgres and SQLite (store.DB); the API takes one, the worker's activities take
// the parts they need (Ledger, CardCharger, WebhookDeliveries), and tests can hand
// either an in-memory implementation. Every implementation runs the same contract
// suite (store/storetest).
type Store interface {
	MerchantService
	CustomerService
	PaymentMethodService
	PlanService
	Ledger
	PaymentService
	EventService
	WebhookService
	IdempotencyService
	PaymentSessionService
	ProviderAccountService
	RefundService
}
