// Package notify tells customers about their plans: by email through an SMTP server
// (SMTP), or only in the log (Log, the default when no SMTP server is configured).
// Both implement billing.Notifier.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
)

// Log writes notifications to the log and sends nothing.
type Log struct{ Logger *slog.Logger }

var _ billing.Notifier = Log{}

// Notify logs n (no personal data: ids and codes only).
func (l Log) Notify(ctx context.Context, n billing.Notification) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "customer notification (log only)", "kind", n.Kind, "plan_id", n.PlanID,
		"customer_id", n.CustomerID, "code", n.Code, "idempotency_key", n.IdempotencyKey)
	return nil
}

// EmailLookup returns a customer's email address ("" when they have none).
type EmailLookup func(ctx context.Context, merchantID string, mode billing.Mode, customerID string) (string, error)

// SMTP emails notifications through an SMTP server.
type SMTP struct {
	// Addr is host:port of the server.
	Addr string
	// From is the sender address.
	From string
	// Username and Password authenticate with PLAIN auth when set (net/smtp refuses
	// to send them without TLS except to localhost).
	Username, Password string
	// Email finds the customer's address.
	Email EmailLookup
	// Timeout bounds one send; 20 s when zero.
	Timeout time.Duration
}

var _ billing.Notifier = (*SMTP)(nil)

// Notify emails the customer. A customer without an address is skipped, not an error
// (retrying would not give them one).
func (s *SMTP) Notify(ctx context.Context, n billing.Notification) error {
	to, err := s.Email(ctx, n.MerchantID, n.Mode, n.CustomerID)
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.CustomerID, err)
	}
	if to == "" {
		return nil
	}
	if strings.ContainsAny(to+s.From, "\r\n") {
		return errors.New("notify: address contains a line break")
	}
	msg := message(s.From, to, n)
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	return s.send(ctx, timeout, to, msg)
}

func (s *SMTP) send(ctx context.Context, timeout time.Duration, to string, msg []byte) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp dial: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer func() { _ = c.Close() }()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(nil); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp mail: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp rcpt: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}

// message renders the email. The Message-ID is derived from the notification's
// idempotency key, so a retried send is recognisably the same message.
func message(from, to string, n billing.Notification) []byte {
	subject, body := text(n)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\n", from, to, subject)
	fmt.Fprintf(&b, "Message-ID: <%s@recurring>\r\n", strings.NewReplacer("/", ".", " ", "").Replace(n.IdempotencyKey))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

func text(n billing.Notification) (subject, body string) {
	amount := ""
	if n.Currency != "" {
		amount = fmt.Sprintf(" of %d %s (minor units)", n.Amount, n.Currency)
	}
	switch n.Kind {
	case billing.NotifyActionRequired:
		subject = "Action required for your subscription"
		body = fmt.Sprintf("Your payment%s for plan %s needs your action: please authenticate it or update your card.\n", amount, n.PlanID)
	case billing.NotifyPaymentUpcoming:
		subject = "Your next payment"
		body = fmt.Sprintf("Installment %d%s for plan %s will be charged on %s.\n", n.Installment, amount, n.PlanID,
			n.DueAt.UTC().Format("2006-01-02 15:04 MST"))
	case billing.NotifyCardExpiring:
		subject = "Your card is about to expire"
		body = fmt.Sprintf("The card you saved (%s) expires on %s. Please give us a new one before then so your payments go on.\n",
			n.PaymentMethodID, n.ExpiresAt.Add(-time.Second).UTC().Format("2006-01-02"))
	case billing.NotifyCardExpired:
		subject = "Your card has expired"
		body = fmt.Sprintf("The card you saved (%s) has expired. Please give us a new one so your payments go on.\n", n.PaymentMethodID)
	case billing.NotifyPaymentRetrying:
		subject = "Your payment did not go through"
		body = fmt.Sprintf("We could not collect installment %d%s for plan %s. We will try again on %s.\n",
			n.Installment, amount, n.PlanID, n.RetryAt.UTC().Format("2006-01-02 15:04 MST"))
		if n.PaymentURL != "" {
			body += "\nTo use another card before then, update it here: " + n.PaymentURL + "\n"
			n.PaymentURL = "" // said above, in its own words
		}
	case billing.NotifyPaymentFailed:
		subject = "Your payment failed"
		body = fmt.Sprintf("We could not collect installment %d%s for plan %s after repeated attempts. Please update your card.\n", n.Installment, amount, n.PlanID)
	default:
		subject = "About your subscription"
		body = fmt.Sprintf("Your plan %s is now %s.\n", n.PlanID, n.Status)
	}
	if n.Message != "" {
		body += "\nReason: " + n.Message + "\n"
	}
	if n.PaymentURL != "" {
		body += "\nYou can do it here: " + n.PaymentURL + "\n"
	}
	return subject, body
}
