package activities

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity options, all in one place. Two retry layers never mix: these policies retry
// technical failures within minutes; declines are non-retryable here and the plan
// workflow's dunning retries them days later with a new idempotency key.

// ChargeMaxAttempts bounds the technical retries of one charge attempt. A card whose
// provider keeps timing out is not retried forever: after these (about four minutes)
// the workflow records the attempt's outcome as unknown and tries again on its dunning
// schedule with the same idempotency key, which can never charge twice.
const ChargeMaxAttempts = 10

// chargeOptions: providers answer within DefaultTimeout (30 s); a minute leaves room
// for the store lookups around the call. Retries back off 1 s, 2 s, 4 s … 1 min.
func chargeOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    ChargeMaxAttempts,
		},
	})
}

// LedgerMaxAttempts bounds the retries of a ledger write (CreatePlan, UpdatePlan,
// RecordPayment, RememberNetworkID): backing off to one a minute, they span about a day
// before the workflow fails with the last error. Writes the store can never take fail
// at once (storeError makes them non-retryable), so this only ends faults nobody
// classified, which would otherwise retry forever, invisibly. It is a day, not minutes,
// because the other thing these retries wait out is a database that is down or
// failing over, and a plan that gives up on its ledger after charging needs an
// operator; every failed attempt already logs at ERROR, so a fault is seen long before
// the day is over. A count rather than a ScheduleToCloseTimeout, so the time-skipping
// test environment (which caps unlimited retries at 10) runs the real bound.
const LedgerMaxAttempts = 24 * 60

// ledgerOptions are for activities that write our own store: short attempts, retried
// LedgerMaxAttempts times at most.
func ledgerOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    LedgerMaxAttempts,
		},
	})
}

// localOptions are for activities that do nothing (Noop, the baseline's server cost):
// short timeouts and retries without a limit.
func localOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
}

// notifyOptions: telling the customer is best effort. A notifier that stays down for
// ten minutes must not hold the plan; the workflow logs the failure and goes on (the
// event in the ledger still records what happened).
func notifyOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    15,
		},
	})
}

// webhookOptions: one attempt is one HTTP request of at most 15 s (webhooks.AttemptTimeout)
// plus store reads and the attempt's row. HTTP outcomes are results, never retried
// here (the delivery workflow sleeps its own schedule); only store failures retry.
func webhookOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	})
}
