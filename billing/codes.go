package billing

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
