package notify

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
)

// smtpServer is a tiny in-process SMTP server speaking enough of RFC 5321 for
// net/smtp: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It keeps every message.
type smtpServer struct {
	l    net.Listener
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	from string
	to   []string
	data string
}

func newSMTPServer(t *testing.T) *smtpServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{l: l}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var cur mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "NOOP"):
			say("250 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			from, _, _ := strings.Cut(strings.TrimSpace(line)[10:], " ") // drop parameters (BODY=8BITMIME)
			cur = mail{from: strings.Trim(from, "<> ")}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			cur.to = append(cur.to, strings.Trim(strings.TrimSpace(line)[8:], "<> "))
			say("250 ok")
		case cmd == "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "RSET":
			cur = mail{}
			say("250 ok")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestSMTPSendsToTheCustomer(t *testing.T) {
	srv := newSMTPServer(t)
	n := &SMTP{Addr: srv.l.Addr().String(), From: "billing@shop.example",
		Email: func(_ context.Context, merchantID string, mode billing.Mode, customerID string) (string, error) {
			if merchantID != "mer_1" || customerID != "cus_1" || mode != billing.ModeTest {
				t.Errorf("lookup(%s, %s, %s)", merchantID, mode, customerID)
			}
			return "ada@example.com", nil
		}}
	err := n.Notify(context.Background(), billing.Notification{Kind: billing.NotifyActionRequired,
		MerchantID: "mer_1", Mode: billing.ModeTest, CustomerID: "cus_1", PlanID: "plan_1", Amount: 1250,
		Currency: "USD", IdempotencyKey: "plan_1/notify/3", PaymentURL: "https://pay.example/pay/tok123"})
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Fatalf("got %d messages", len(srv.msgs))
	}
	m := srv.msgs[0]
	if m.from != "billing@shop.example" || len(m.to) != 1 || m.to[0] != "ada@example.com" {
		t.Errorf("envelope %q → %q", m.from, m.to)
	}
	for _, want := range []string{"Subject: Action required", "To: ada@example.com", "plan_1", "Message-ID: <plan_1.notify.3@recurring>",
		"You can do it here: https://pay.example/pay/tok123"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.data)
		}
	}
}

func TestSMTPSkipsCustomerWithoutEmail(t *testing.T) {
	n := &SMTP{Addr: "127.0.0.1:1", From: "x@y", Email: func(context.Context, string, billing.Mode, string) (string, error) {
		return "", nil
	}}
	if err := n.Notify(context.Background(), billing.Notification{Kind: billing.NotifyPaymentFailed}); err != nil {
		t.Fatal(err)
	}
}

// TestSMTPPaymentRetrying: the first decline's email gives the retry date and the page
// to update the card, once.
func TestSMTPPaymentRetrying(t *testing.T) {
	srv := newSMTPServer(t)
	n := &SMTP{Addr: srv.l.Addr().String(), From: "billing@shop.example",
		Email: func(context.Context, string, billing.Mode, string) (string, error) { return "ada@example.com", nil }}
	err := n.Notify(context.Background(), billing.Notification{Kind: billing.NotifyPaymentRetrying,
		MerchantID: "mer_1", Mode: billing.ModeTest, CustomerID: "cus_1", PlanID: "plan_1", Installment: 2, Amount: 1250,
		Currency: "USD", RetryAt: time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), IdempotencyKey: "plan_1/2/1/payment_retrying",
		PaymentURL: "https://pay.example/pay/tok123"})
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Fatalf("got %d messages", len(srv.msgs))
	}
	m := srv.msgs[0].data
	for _, want := range []string{"Subject: Your payment did not go through", "installment 2", "try again on 2027-03-01 09:00 UTC",
		"update it here: https://pay.example/pay/tok123"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	if strings.Count(m, "https://pay.example/pay/tok123") != 1 {
		t.Errorf("the page is given %d times:\n%s", strings.Count(m, "https://pay.example/pay/tok123"), m)
	}
}

// TestSMTPCardExpiring: the expiring card's email names the card and its last valid day.
func TestSMTPCardExpiring(t *testing.T) {
	srv := newSMTPServer(t)
	n := &SMTP{Addr: srv.l.Addr().String(), From: "billing@shop.example",
		Email: func(context.Context, string, billing.Mode, string) (string, error) { return "ada@example.com", nil }}
	if err := n.Notify(context.Background(), billing.Notification{Kind: billing.NotifyCardExpiring, MerchantID: "mer_1",
		Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_1", ExpiresAt: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
		IdempotencyKey: "payment_method/pm_1/card_expiring"}); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 || !strings.Contains(srv.msgs[0].data, "Subject: Your card is about to expire") ||
		!strings.Contains(srv.msgs[0].data, "(pm_1) expires on 2027-05-31") {
		t.Errorf("messages %+v", srv.msgs)
	}
}
