package billing

import (
	"context"
	"slices"
	"time"
)

// WebhookEndpointStatus says whether an endpoint receives events.
type WebhookEndpointStatus string

// Webhook endpoint statuses.
const (
	WebhookEnabled  WebhookEndpointStatus = "enabled"
	WebhookDisabled WebhookEndpointStatus = "disabled"
)

// WebhookEndpoint is where a merchant receives events. Its signing secrets never leave
// the store except through WebhookTarget (for signing) and the create/rotate answers.
type WebhookEndpoint struct {
	ID                string                `json:"id"`
	MerchantID        string                `json:"-"`
	Mode              Mode                  `json:"mode"`
	URL               string                `json:"url"`
	Description       string                `json:"description"`
	EventTypes        []string              `json:"event_types"`
	Status            WebhookEndpointStatus `json:"status"`
	DisabledReason    string                `json:"disabled_reason,omitempty"`
	PreviousExpiresAt *time.Time            `json:"previous_secret_expires_at,omitempty"`
	CreatedAt         time.Time             `json:"created_at"`
	UpdatedAt         time.Time             `json:"updated_at"`
}

// Matches reports whether the endpoint wants events of type typ ("*" is every type).
func (e WebhookEndpoint) Matches(typ string) bool {
	return slices.Contains(e.EventTypes, "*") || slices.Contains(e.EventTypes, typ)
}

// NewWebhookEndpoint is a webhook endpoint to create; Secret is the whsec_… signing
// secret, chosen by the caller.
type NewWebhookEndpoint struct {
	URL         string
	Description string
	EventTypes  []string
	Secret      string
}

// WebhookTarget is what a delivery needs of an endpoint: where, and the secrets to sign
// with (the current one first; a rotated-out one until it expires).
type WebhookTarget struct {
	Endpoint WebhookEndpoint
	Secrets  []string
}

// WebhookAttempt is one HTTP attempt to deliver an event to an endpoint.
type WebhookAttempt struct {
	ID         string    `db:"id" json:"id"`
	Seq        int64     `db:"seq" json:"-"`
	MerchantID string    `db:"merchant_id" json:"-"`
	Mode       Mode      `db:"mode" json:"mode"`
	EventID    string    `db:"event_id" json:"event_id"`
	EndpointID string    `db:"endpoint_id" json:"endpoint_id"`
	DeliveryID string    `db:"delivery_id" json:"delivery_id"`
	Attempt    int       `db:"attempt" json:"attempt"`
	URL        string    `db:"url" json:"url"`
	StatusCode int       `db:"status_code" json:"status_code"`
	Error      string    `db:"error" json:"error,omitempty"`
	DurationMS int64     `db:"duration_ms" json:"duration_ms"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
}

// WebhookDeliveries is what delivering an event needs: the webhook delivery activity
// depends on this much of the store.
type WebhookDeliveries interface {
	// EventByID returns the merchant's event.
	EventByID(ctx context.Context, merchantID, id string) (Event, error)
	// WebhookTarget returns the endpoint with its unsealed signing secrets, as of now.
	WebhookTarget(ctx context.Context, merchantID, endpointID string) (WebhookTarget, error)
	// RecordWebhookAttempt stores an attempt unless (DeliveryID, Attempt) is stored.
	RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) error
	// DisableWebhookEndpoint stops deliveries to an endpoint (its receiver answered 410).
	DisableWebhookEndpoint(ctx context.Context, merchantID, endpointID, reason string) error
}

// WebhookService keeps webhook endpoints and their delivery attempts.
type WebhookService interface {
	WebhookDeliveries
	// CreateWebhookEndpoint stores an enabled endpoint with its secret sealed.
	CreateWebhookEndpoint(ctx context.Context, caller Caller, in NewWebhookEndpoint) (WebhookEndpoint, error)
	GetWebhookEndpoint(ctx context.Context, caller Caller, id string) (WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, caller Caller, p ListParams) (Page[WebhookEndpoint], error)
	// DeleteWebhookEndpoint removes an endpoint; deliveries in flight stop at their next
	// attempt.
	DeleteWebhookEndpoint(ctx context.Context, caller Caller, id string) error
	// RotateWebhookSecret makes secret the signing secret; the current one keeps signing
	// beside it until previousExpiresAt.
	RotateWebhookSecret(ctx context.Context, caller Caller, id, secret string, previousExpiresAt time.Time) (WebhookEndpoint, error)
	// EnabledWebhookEndpoints returns the merchant's enabled endpoints in mode that want
	// events of type typ, oldest first.
	EnabledWebhookEndpoints(ctx context.Context, merchantID string, mode Mode, typ string) ([]WebhookEndpoint, error)
	// ListWebhookAttempts returns an event's delivery attempts, oldest first.
	ListWebhookAttempts(ctx context.Context, caller Caller, eventID string) ([]WebhookAttempt, error)
}
