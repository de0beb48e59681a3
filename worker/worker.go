// Package worker registers the engine's workflows and activities on a Temporal worker.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// Options tunes the worker. Zero values take the defaults below, which `recurring
// bench` measured on two cores; the SDK's defaults (2 pollers) drain a burst of due
// plans several times slower.
type Options struct {
	Pollers                 int
	MaxConcurrentActivities int
	MaxConcurrentWorkflows  int
	StopTimeout             time.Duration
	// CacheSize is how many workflows the SDK keeps in memory between tasks (its
	// sticky cache, one per process): DefaultCacheSize when zero. A sleeping plan
	// needs no place in it; a bigger cache saves replays during bursts and costs
	// memory (the SDK's own default of 10,000 held 1.9 GB with 20,000 plans asleep).
	CacheSize int
	// StickyTimeout is how long a workflow task waits for the worker that has the
	// workflow cached before it goes to any worker (DefaultStickyTimeout when zero).
	StickyTimeout time.Duration
}

// DefaultStickyTimeout is the SDK's sticky schedule-to-start timeout.
const DefaultStickyTimeout = 5 * time.Second

// DefaultCacheSize is the worker's sticky cache size (WORKFLOW_CACHE_SIZE).
const DefaultCacheSize = 2000

func (o Options) withDefaults() Options {
	if o.Pollers == 0 {
		o.Pollers = 16
	}
	if o.MaxConcurrentActivities == 0 {
		o.MaxConcurrentActivities = 1000
	}
	if o.MaxConcurrentWorkflows == 0 {
		o.MaxConcurrentWorkflows = 1000
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.StickyTimeout == 0 {
		o.StickyTimeout = DefaultStickyTimeout
	}
	if o.StopTimeout == 0 {
		// In-flight charges get this long to finish on SIGTERM before the worker
		// gives up on them; Temporal then retries them elsewhere with the same
		// idempotency key.
		o.StopTimeout = 30 * time.Second
	}
	return o
}

// New returns a worker on starter.TaskQueue with every workflow and activity registered.
// Call Start or Run on it.
func New(c client.Client, acts *activities.Activities, o Options) sdkworker.Worker {
	o = o.withDefaults()
	// Process-wide in the SDK, and only taken before the first worker starts.
	sdkworker.SetStickyWorkflowCacheSize(o.CacheSize)
	w := sdkworker.New(c, starter.TaskQueue, sdkworker.Options{
		MaxConcurrentWorkflowTaskPollers:       o.Pollers,
		MaxConcurrentActivityTaskPollers:       o.Pollers,
		MaxConcurrentActivityExecutionSize:     o.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: o.MaxConcurrentWorkflows,
		WorkerStopTimeout:                      o.StopTimeout,
		StickyScheduleToStartTimeout:           o.StickyTimeout,
	})
	w.RegisterWorkflow(workflows.Baseline)
	w.RegisterWorkflow(workflows.Plan)
	w.RegisterWorkflow(workflows.Payment)
	w.RegisterWorkflow(workflows.Refund)
	w.RegisterWorkflow(workflows.RemoveCredential)
	w.RegisterWorkflow(workflows.HostedPayment)
	w.RegisterWorkflow(workflows.WebhookDelivery)
	w.RegisterActivity(acts)
	return w
}
