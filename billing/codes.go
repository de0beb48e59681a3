package billing

// Every error code a client can see as error.code is a constant in this file, and no
// other package spells one as a string literal (TestCodesOnlyInCodesFile checks it).

// Error codes of money and schedules. They are part of the public API: a client sees
// them as error.code with error.param naming the field (for schedules a dotted path
// under "schedule.", such as "schedule.payments[2].date"). Every one is KindInvalid.
const (
	// CodeInvalidCurrency: unknown, withdrawn, lower-case or unchargeable (no minor
	// unit) ISO 4217 code.
	CodeInvalidCurrency = "invalid_currency"
	// CodeCurrencyMismatch: adding or comparing amounts in different currencies.
	CodeCurrencyMismatch = "currency_mismatch"
	// CodeAmountOverflow: an amount or a schedule's total does not fit in int64 minor
	// units.
	CodeAmountOverflow = "amount_overflow"
	// CodeInvalidAmount: an amount that is not positive, or a decimal that can't be read
	// exactly in the currency's minor unit.
	CodeInvalidAmount = "invalid_amount"

	// CodeParameterMissing: a required field is absent.
	CodeParameterMissing = "parameter_missing"
	// CodeParameterNotAllowed: a field that does not apply, such as frequency on a
	// variable schedule or charge_time next to a timestamp start_date.
	CodeParameterNotAllowed = "parameter_not_allowed"
	// CodeInvalidFrequency: frequency is not seconds|minutes|hours|days|weeks|months|years.
	CodeInvalidFrequency = "invalid_frequency"
	// CodeFrequencyNotAllowed: seconds|minutes|hours in live mode; they exist so a test
	// plan can be watched end to end in minutes.
	CodeFrequencyNotAllowed = "frequency_not_allowed"
	// CodeInvalidFrequencyDuration: frequency_duration outside 1..MaxFrequencyDuration.
	CodeInvalidFrequencyDuration = "invalid_frequency_duration"
	// CodeInvalidInstallments: installments below 1.
	CodeInvalidInstallments = "invalid_installments"
	// CodeInvalidDate: a date that is neither YYYY-MM-DD nor RFC 3339 (expires_on takes
	// only YYYY-MM-DD).
	CodeInvalidDate = "invalid_date"
	// CodeInvalidChargeTime: charge_time is not HH:MM or HH:MM:SS (00:00 to 23:59:59).
	CodeInvalidChargeTime = "invalid_charge_time"
	// CodeInvalidTimezone: timezone is not an IANA time zone name.
	CodeInvalidTimezone = "invalid_timezone"
	// CodeDateInPast: start_date or a payment date falls on a day before today in the
	// plan's time zone.
	CodeDateInPast = "date_in_past"
	// CodeFinalRequiresInstallments: final_amount or final_payment_date without
	// installments of at least 2.
	CodeFinalRequiresInstallments = "final_requires_installments"
	// CodeFinalPaymentDateTooEarly: final_payment_date not after the second-to-last
	// installment.
	CodeFinalPaymentDateTooEarly = "final_payment_date_too_early"
	// CodeExpiresOnTooEarly: expires_on before the first installment, or before
	// final_payment_date.
	CodeExpiresOnTooEarly = "expires_on_too_early"
	// CodeScheduleTooLong: a limited schedule's last installment falls after the
	// horizon (year 9999).
	CodeScheduleTooLong = "schedule_too_long"
	// CodeTooFewPayments: a variable schedule with fewer than 2 payments.
	CodeTooFewPayments = "too_few_payments"
	// CodeTooManyPayments: a variable schedule with more than MaxPayments payments.
	CodeTooManyPayments = "too_many_payments"
	// CodePaymentsNotIncreasing: a variable schedule's payment not strictly after the
	// one before it.
	CodePaymentsNotIncreasing = "payments_not_increasing"
)

// Error codes of requests that do not match openapi.yaml, and of the HTTP layer. Param
// names the field with a dotted path ("billing_address.country", "card.number").
const (
	// CodeInvalidJSON: the body is not JSON.
	CodeInvalidJSON = "invalid_json"
	// CodeParameterUnknown: a field the endpoint does not take.
	CodeParameterUnknown = "parameter_unknown"
	// CodeInvalidType: a field of the wrong JSON type (or null).
	CodeInvalidType = "invalid_type"
	// CodeInvalidValue: a field outside its length, range or pattern.
	CodeInvalidValue = "invalid_value"
	// CodeUnsupportedMediaType: a body that is not application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeBodyNotAllowed: a body on an endpoint that takes none.
	CodeBodyNotAllowed = "body_not_allowed"
	// CodeBodyTooLarge: a request body over the 1 MiB limit.
	CodeBodyTooLarge = "body_too_large"
	// CodeInvalidCharacters: a string holds NUL or another control character.
	CodeInvalidCharacters = "invalid_characters"
	// CodeInvalidRequest: a request that does not match the API description in a way
	// no more specific code names, or a provider refusing the request itself.
	CodeInvalidRequest = "invalid_request"
	// CodeRouteNotFound: no route has this path.
	CodeRouteNotFound = "route_not_found"
	// CodeMethodNotAllowed: the route exists but not with this HTTP method.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeInternalError: a fault of ours; the client sees only the request id.
	CodeInternalError = "internal_error"
	// CodeTemporalUnavailable: the workflow service is not configured or not reachable.
	CodeTemporalUnavailable = "temporal_unavailable"
)

// Error codes of authentication and of resources in general.
const (
	// CodeMissingAPIKey: no Authorization: Bearer header.
	CodeMissingAPIKey = "missing_api_key"
	// CodeInvalidAPIKey: a key that is malformed, unknown or revoked.
	CodeInvalidAPIKey = "invalid_api_key"
	// CodeResourceMissing: the id names nothing the caller can see (also a provider's
	// unknown charge, and a starting_after outside the list).
	CodeResourceMissing = "resource_missing"
	// CodeResourceExists: an insert whose id or unique key is taken.
	CodeResourceExists = "resource_exists"
	// CodeInvalidData: a write the database refused for its values: a data exception (a
	// NUL byte or invalid UTF-8 in a string, a value out of range), or a NOT NULL or
	// CHECK constraint. Retrying the same write can never succeed, so it is a
	// KindInvalid error, which activities make non-retryable.
	CodeInvalidData = "invalid_data"
	// CodeIdempotencyKeyReused: the Idempotency-Key was used for a different request
	// (method, path or body) in the last 24 hours.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeIdempotencyKeyInUse: a request with this Idempotency-Key is executing right
	// now (retry once it has finished to get its response), or the provider reports the
	// same of its own key.
	CodeIdempotencyKeyInUse = "idempotency_key_in_use"
)

// Error codes of customers.
const (
	// CodeInvalidEmail: email is not an email address.
	CodeInvalidEmail = "invalid_email"
	// CodeInvalidCountry: billing_address.country is not an upper-case ISO 3166-1
	// alpha-2 code.
	CodeInvalidCountry = "invalid_country"
	// CodeInvalidMetadata: metadata with too many keys or a key of the wrong length.
	CodeInvalidMetadata = "invalid_metadata"
	// CodeCustomerHasActivePlans: DELETE of a customer whose plans are not all
	// completed, canceled or failed.
	CodeCustomerHasActivePlans = "customer_has_active_plans"
)

// Error codes of payment methods, plans and charges before a provider is asked.
const (
	// CodeProviderNotAvailable: the provider exists but not for this mode (the
	// simulator with a live key, a live provider account with a test key).
	CodeProviderNotAvailable = "provider_not_available"
	// CodeInvalidPaymentMethod: a payment method id that is not a pm_ id.
	CodeInvalidPaymentMethod = "invalid_payment_method"
	// CodePaymentMethodUnusable: a payment method of another customer, or not active.
	CodePaymentMethodUnusable = "payment_method_unusable"
	// CodePaymentNotReusable: a plan started from a payment that is not a succeeded
	// initial payment of the same customer.
	CodePaymentNotReusable = "payment_not_reusable"
	// CodePaymentMethodDetached: the card was detached; it can never be unblocked or
	// charged again.
	CodePaymentMethodDetached = "payment_method_detached"
	// CodePaymentMethodBlocked: the card is blocked; unblock it before charging.
	CodePaymentMethodBlocked = "payment_method_blocked"
	// CodeAttemptLimitReached: the card failed too often lately (AttemptLimit); nothing
	// was sent to the provider.
	CodeAttemptLimitReached = "attempt_limit_reached"
	// CodeInvalidTransition: the action does not apply to the plan's status (resume a
	// canceled plan, pause a paused one). KindConflict (409).
	CodeInvalidTransition = "invalid_transition"
	// CodeNothingToSkip: skip_next on a plan with no installment left to skip.
	// KindConflict (409).
	CodeNothingToSkip = "nothing_to_skip"
	// CodeInvalidDunning: a dunning policy that is not usable (param names the field).
	CodeInvalidDunning = "invalid_dunning"
)

// Error codes of webhooks.
const (
	// CodeInvalidURL: not an absolute http(s) URL.
	CodeInvalidURL = "invalid_url"
	// CodeURLNotAllowed: a live endpoint reaching loopback, private or link-local
	// addresses.
	CodeURLNotAllowed = "url_not_allowed"
	// CodeWebhooksNotConfigured: a webhook delivery on a worker without a webhook store.
	CodeWebhooksNotConfigured = "webhooks_not_configured"
	// CodeProviderAccountInUse: a provider account unfinished plans charge through
	// cannot be deleted (409).
	CodeProviderAccountInUse = "provider_account_in_use"
)

// Error codes every payment provider adapter maps its own taxonomy into
// (providers/decline.go). The API shows them to clients, and plans and payments record
// them as their last error. CodeInvalidAmount, CodeInvalidCurrency, CodeResourceMissing,
// CodeInvalidRequest and CodeIdempotencyKeyInUse above serve providers too.
const (
	// CodeCardExpired: hard decline, the card is past its expiry date.
	CodeCardExpired = "card_expired"
	// CodeLostCard: hard decline, the card was reported lost.
	CodeLostCard = "lost_card"
	// CodeStolenCard: hard decline, the card was reported stolen.
	CodeStolenCard = "stolen_card"
	// CodeCardBlocked: hard decline, the issuer blocked the card (pick up, restricted,
	// fraud, security violation).
	CodeCardBlocked = "card_blocked"
	// CodeRecurringNotSupported: hard decline, the card or provider takes no
	// merchant-initiated recurring charges.
	CodeRecurringNotSupported = "recurring_not_supported"
	// CodeAccountClosed: hard decline, the account behind the card is closed.
	CodeAccountClosed = "account_closed"
	// CodeDoNotRetry: hard decline, the issuer or network says never to try again.
	CodeDoNotRetry = "do_not_retry"
	// CodeAuthorizationRevoked: hard decline, the cardholder revoked this merchant's
	// authorization.
	CodeAuthorizationRevoked = "authorization_revoked"
	// CodeTransactionNotAllowed: hard decline, the card may not be used for this kind of
	// transaction.
	CodeTransactionNotAllowed = "transaction_not_allowed"
	// CodeInvalidCardNumber: the card number is wrong (fails Luhn, or the issuer
	// refuses it).
	CodeInvalidCardNumber = "invalid_card_number"
	// CodeIncorrectCVC: hard decline, the issuer refused the CVC.
	CodeIncorrectCVC = "incorrect_cvc"
	// CodeNewAccountInformation: hard decline, the card was replaced; ask for the new one.
	CodeNewAccountInformation = "new_account_information_available"
	// CodeCardNotSupported: hard decline, the provider does not take this kind of card.
	CodeCardNotSupported = "card_not_supported"
	// CodeCurrencyNotSupported: hard decline, the card or provider does not take this
	// currency.
	CodeCurrencyNotSupported = "currency_not_supported"
	// CodeAmountNotSupported: the provider cannot charge this exact amount in this
	// currency (Stripe: whole ariary only, three-decimal amounts ending in 0); refused
	// when the plan or payment is created (422).
	CodeAmountNotSupported = "amount_not_supported"
	// CodeImportNotSupported: the provider cannot take over a card saved at it (token
	// import); 422.
	CodeImportNotSupported = "import_not_supported"
	// CodeMethodTypeNotSupported: the provider (account) does not offer this payment
	// method type (PayPal on a Stripe account); 422.
	CodeMethodTypeNotSupported = "payment_method_type_not_supported"

	// CodeInsufficientFunds: soft decline, not enough money now.
	CodeInsufficientFunds = "insufficient_funds"
	// CodeCardDeclined: soft decline with no more specific reason.
	CodeCardDeclined = "card_declined"
	// CodeIssuerUnavailable: soft decline, the issuer could not be reached.
	CodeIssuerUnavailable = "issuer_unavailable"
	// CodeLimitExceeded: soft decline, a velocity or count limit of the card.
	CodeLimitExceeded = "limit_exceeded"

	// CodeProcessingError: transient, the provider failed before a decision.
	CodeProcessingError = "processing_error"
	// CodeTimeout: transient, no answer in time; the charge's outcome is unknown.
	CodeTimeout = "timeout"
	// CodeRateLimited: transient, the provider (or this API) refuses requests this fast.
	CodeRateLimited = "rate_limited"
	// CodeProviderUnavailable: transient, the provider answered with a server error.
	CodeProviderUnavailable = "provider_unavailable"
	// CodeNetworkError: transient, the connection to the provider failed.
	CodeNetworkError = "network_error"

	// CodeAuthenticationRequired: the issuer wants the cardholder to authenticate (3-D
	// Secure); the customer must act.
	CodeAuthenticationRequired = "authentication_required"
	// CodeAuthenticationFailed: the cardholder failed or refused 3-D Secure on the
	// hosted page; nothing was charged.
	CodeAuthenticationFailed = "authentication_failed"
	// CodeSessionNotWaiting: a hosted payment session was asked for a step it is not at
	// (a second card, a challenge answer without a challenge, or it has ended).
	CodeSessionNotWaiting = "session_not_waiting"

	// CodeIdempotencyKeyRequired: a provider call without an idempotency key.
	CodeIdempotencyKeyRequired = "idempotency_key_required"
	// CodeIdempotencyConflict: a provider idempotency key reused with other parameters.
	CodeIdempotencyConflict = "idempotency_conflict"
	// CodeInvalidExpiryMonth: card.exp_month outside 1..12.
	CodeInvalidExpiryMonth = "invalid_expiry_month"
	// CodeInvalidExpiryYear: card.exp_year is not a four-digit year.
	CodeInvalidExpiryYear = "invalid_expiry_year"
	// CodeInvalidCVC: card.cvc of the wrong length for the card brand.
	CodeInvalidCVC = "invalid_cvc"
	// CodePaymentMethodNotFound: the payment method or the provider's token for it does
	// not exist.
	CodePaymentMethodNotFound = "payment_method_not_found"
	// CodeProviderAuthenticationFailed: the provider refused our API key.
	CodeProviderAuthenticationFailed = "provider_authentication_failed"
	// CodeRefundNotSupported: the provider offers no refunds.
	CodeRefundNotSupported = "refund_not_supported"
	// CodePaymentNotRefundable: a refund of a payment that did not succeed (failed,
	// pending, a hosted session) or that the provider gave no charge id.
	CodePaymentNotRefundable = "payment_not_refundable"
	// CodeScheduleTooDense: two installments of the schedule are due closer than the
	// plan's min_days_between_charges.
	CodeScheduleTooDense = "schedule_too_dense"
	// CodeRefundExceedsPayment: a refund of more than is left to refund of the payment
	// (its amount less what is refunded or on its way).
	CodeRefundExceedsPayment = "refund_exceeds_payment"
	// CodeUnknownProvider: no provider of this name is configured.
	CodeUnknownProvider = "unknown_provider"
)
