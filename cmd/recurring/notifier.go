package main

import (
	"context"
	"log/slog"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/notify"
	"github.com/recurring/recurring/store"
)

// notifier emails customers through SMTP_ADDR when set; otherwise it only logs.
func notifier(cfg Config, db *store.DB, logger *slog.Logger) activities.Notifier {
	if cfg.SMTPAddr == "" {
		return notify.Log{Logger: logger}
	}
	return &notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		Email: func(ctx context.Context, merchantID string, mode billing.Mode, customerID string) (string, error) {
			c, err := db.GetCustomer(ctx, billing.Caller{MerchantID: merchantID, Mode: mode}, customerID)
			if err != nil {
				return "", err
			}
			return c.Email, nil
		}}
}
