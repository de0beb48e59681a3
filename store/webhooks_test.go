package store_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// clock is a settable db.Now, for moving time across a rotated secret's expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                  { return c.t }
func (c *clock) advance(d time.Duration)         { c.t = c.t.Add(d) }
func setClock(db *store.DB, at time.Time) *clock { c := &clock{t: at}; db.Now = c.now; return c }

func newEndpoint(t *testing.T, db *store.DB, c billing.Caller, secret string, types ...string) billing.WebhookEndpoint {
	t.Helper()
	if len(types) == 0 {
		types = []string{"*"}
	}
	ep, err := db.CreateWebhookEndpoint(context.Background(), c, billing.NewWebhookEndpoint{
		URL: "https://example.com/hooks", Description: "orders", EventTypes: types, Secret: secret,
	})
	if err != nil {
		t.Fatalf("create webhook endpoint: %v", err)
	}
	return ep
}

func newEvent(t *testing.T, db *store.DB, c billing.Caller, typ, key string) billing.Event {
	t.Helper()
	ev, err := db.AppendEvent(context.Background(), billing.Event{MerchantID: c.MerchantID, Mode: c.Mode, Type: typ,
		IdempotencyKey: key})
	if err != nil {
		t.Fatalf("append event: %v", err)
	}
	return ev
}

func targetSecrets(t *testing.T, db *store.DB, merchantID, endpointID string) []string {
	t.Helper()
	tg, err := db.WebhookTarget(context.Background(), merchantID, endpointID)
	if err != nil {
		t.Fatalf("webhook target: %v", err)
	}
	return tg.Secrets
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func endpointID(e billing.WebhookEndpoint) string { return e.ID }
func eventID(e billing.Event) string              { return e.ID }

func TestWebhookEndpointsAreScopedByMerchantAndMode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		ep := newEndpoint(t, db, ten.aTest, "whsec_scoped", "payment.succeeded")
		if ep.Mode != billing.ModeTest || ep.Status != billing.WebhookEnabled || ep.PreviousExpiresAt != nil ||
			!slices.Equal(ep.EventTypes, []string{"payment.succeeded"}) || ep.URL != "https://example.com/hooks" {
			t.Errorf("created %+v", ep)
		}
		if got, err := db.GetWebhookEndpoint(ctx, ten.aTest, ep.ID); err != nil || got.ID != ep.ID ||
			!got.CreatedAt.Equal(ep.CreatedAt) || got.Description != "orders" {
			t.Errorf("get own endpoint: %+v, %v", got, err)
		}
		for name, other := range map[string]billing.Caller{"the other mode": ten.aLive, "another merchant": ten.bTest} {
			_, err := db.GetWebhookEndpoint(ctx, other, ep.ID)
			wantKind(t, name+": get", err, billing.KindNotFound, "resource_missing")
			list, err := db.ListWebhookEndpoints(ctx, other, billing.ListParams{})
			if err != nil || len(list.Items) != 0 {
				t.Errorf("%s: list %+v, %v; want empty", name, list, err)
			}
			_, err = db.ListWebhookEndpoints(ctx, other, billing.ListParams{StartingAfter: ep.ID})
			wantKind(t, name+": cursor", err, billing.KindInvalid, "resource_missing")
			_, err = db.RotateWebhookSecret(ctx, other, ep.ID, "whsec_stolen", time.Now().Add(time.Hour))
			wantKind(t, name+": rotate", err, billing.KindNotFound, "resource_missing")
			err = db.DeleteWebhookEndpoint(ctx, other, ep.ID)
			wantKind(t, name+": delete", err, billing.KindNotFound, "resource_missing")
			if got, err := db.EnabledWebhookEndpoints(ctx, other.MerchantID, other.Mode, "payment.succeeded"); err != nil || len(got) != 0 {
				t.Errorf("%s: enabled endpoints %+v, %v; want none", name, got, err)
			}
		}
		// Deliveries carry the merchant, not a caller: another merchant's id finds nothing.
		_, err := db.WebhookTarget(ctx, ten.bTest.MerchantID, ep.ID)
		wantKind(t, "another merchant's target", err, billing.KindNotFound, "resource_missing")
		if err := db.DisableWebhookEndpoint(ctx, ten.bTest.MerchantID, ep.ID, "not yours"); err != nil {
			t.Fatal(err)
		}
		// None of that touched the endpoint.
		got, err := db.GetWebhookEndpoint(ctx, ten.aTest, ep.ID)
		if err != nil || got.Status != billing.WebhookEnabled || got.PreviousExpiresAt != nil {
			t.Errorf("after the other tenants' calls: %+v, %v", got, err)
		}
		if s := targetSecrets(t, db, ten.aTest.MerchantID, ep.ID); !slices.Equal(s, []string{"whsec_scoped"}) {
			t.Errorf("secrets after the other tenants' calls: %v", s)
		}
	})
}

func TestWebhookSecretIsStoredSealed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		const first, second = "whsec_c2VjcmV0LW9uZS1wbGFpbnRleHQ", "whsec_c2VjcmV0LXR3by1wbGFpbnRleHQ"
		ep := newEndpoint(t, db, ten.aTest, first)
		if _, err := db.RotateWebhookSecret(ctx, ten.aTest, ep.ID, second, time.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		var raw struct {
			KeyID    string `db:"secret_key_id"`
			Secret   []byte `db:"secret"`
			PrevKey  string `db:"previous_secret_key_id"`
			Previous []byte `db:"previous_secret"`
		}
		if err := db.GetContext(ctx, &raw, db.Rebind(`SELECT secret_key_id, secret, previous_secret_key_id, previous_secret
			FROM webhook_endpoints WHERE id = ?`), ep.ID); err != nil {
			t.Fatal(err)
		}
		if raw.KeyID == "" || raw.PrevKey == "" || len(raw.Secret) == 0 || len(raw.Previous) == 0 {
			t.Fatalf("raw row %+v: want both slots sealed with a key id", raw)
		}
		for _, col := range [][]byte{raw.Secret, raw.Previous} {
			for _, s := range []string{first, second, first[len("whsec_"):], second[len("whsec_"):]} {
				if bytes.Contains(col, []byte(s)) {
					t.Errorf("a secret column holds %q in the clear", s)
				}
			}
		}
		if s := targetSecrets(t, db, ten.aTest.MerchantID, ep.ID); !slices.Equal(s, []string{second, first}) {
			t.Errorf("unsealed secrets %v, want the current then the previous", s)
		}

		// A sealed secret is bound to its endpoint: copied onto another, it does not open.
		other := newEndpoint(t, db, ten.aTest, "whsec_other")
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhook_endpoints SET secret = ?, secret_key_id = ? WHERE id = ?`),
			raw.Secret, raw.KeyID, other.ID); err != nil {
			t.Fatal(err)
		}
		if tg, err := db.WebhookTarget(ctx, ten.aTest.MerchantID, other.ID); err == nil {
			t.Errorf("a secret copied from another endpoint opened: %v", tg.Secrets)
		}
	})
}

func TestWebhookSecretRotationKeepsThePreviousUntilItExpires(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		clk := setClock(db, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		ep := newEndpoint(t, db, ten.aTest, "whsec_one")

		clk.advance(time.Minute)
		expires := clk.t.Add(24 * time.Hour)
		rotated, err := db.RotateWebhookSecret(ctx, ten.aTest, ep.ID, "whsec_two", expires)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.PreviousExpiresAt == nil || !rotated.PreviousExpiresAt.Equal(expires) || !rotated.UpdatedAt.Equal(clk.t) ||
			!rotated.CreatedAt.Equal(ep.CreatedAt) {
			t.Errorf("rotated %+v, want the previous secret expiring at %s, updated at %s", rotated, expires, clk.t)
		}
		if got, err := db.GetWebhookEndpoint(ctx, ten.aTest, ep.ID); err != nil || got.PreviousExpiresAt == nil ||
			!got.PreviousExpiresAt.Equal(expires) || !got.UpdatedAt.Equal(clk.t) {
			t.Errorf("read back %+v, %v", got, err)
		}

		steps := []struct {
			at   time.Duration // after the rotation
			want []string
		}{
			{0, []string{"whsec_two", "whsec_one"}},
			{23*time.Hour + 59*time.Minute, []string{"whsec_two", "whsec_one"}},
			{24 * time.Hour, []string{"whsec_two"}}, // expired at its expiry, not after
			{48 * time.Hour, []string{"whsec_two"}},
		}
		rotatedAt := clk.t
		for _, s := range steps {
			clk.t = rotatedAt.Add(s.at)
			if got := targetSecrets(t, db, ten.aTest.MerchantID, ep.ID); !slices.Equal(got, s.want) {
				t.Errorf("%s after rotating: secrets %v, want %v", s.at, got, s.want)
			}
		}

		// Rotating again makes the current secret the previous one; the first is gone.
		clk.t = rotatedAt.Add(time.Hour)
		if _, err := db.RotateWebhookSecret(ctx, ten.aTest, ep.ID, "whsec_three", clk.t.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := targetSecrets(t, db, ten.aTest.MerchantID, ep.ID); !slices.Equal(got, []string{"whsec_three", "whsec_two"}) {
			t.Errorf("after a second rotation: %v, want [whsec_three whsec_two]", got)
		}
	})
}

func TestDeleteWebhookEndpoint(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		ep := newEndpoint(t, db, ten.aTest, "whsec_del")
		kept := newEndpoint(t, db, ten.aTest, "whsec_kept")
		ev := newEvent(t, db, ten.aTest, "payment.succeeded", "evt_del")
		if err := db.RecordWebhookAttempt(ctx, billing.WebhookAttempt{MerchantID: ten.aTest.MerchantID, Mode: ten.aTest.Mode,
			EventID: ev.ID, EndpointID: ep.ID, DeliveryID: "whd_del", Attempt: 1, URL: ep.URL, StatusCode: 500}); err != nil {
			t.Fatal(err)
		}

		if err := db.DeleteWebhookEndpoint(ctx, ten.aTest, ep.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.GetWebhookEndpoint(ctx, ten.aTest, ep.ID)
		wantKind(t, "get deleted", err, billing.KindNotFound, "resource_missing")
		err = db.DeleteWebhookEndpoint(ctx, ten.aTest, ep.ID)
		wantKind(t, "delete twice", err, billing.KindNotFound, "resource_missing")
		// A delivery in flight finds no target and stops.
		_, err = db.WebhookTarget(ctx, ten.aTest.MerchantID, ep.ID)
		wantKind(t, "target of deleted", err, billing.KindNotFound, "resource_missing")
		_, err = db.RotateWebhookSecret(ctx, ten.aTest, ep.ID, "whsec_x", time.Now().Add(time.Hour))
		wantKind(t, "rotate deleted", err, billing.KindNotFound, "resource_missing")

		list, err := db.ListWebhookEndpoints(ctx, ten.aTest, billing.ListParams{})
		if err != nil || !slices.Equal(ids(list.Items, endpointID), []string{kept.ID}) {
			t.Errorf("list after delete: %v, %v; want only %s", ids(list.Items, endpointID), err, kept.ID)
		}
		// Its attempts stay listed under their event.
		atts, err := db.ListWebhookAttempts(ctx, ten.aTest, ev.ID)
		if err != nil || len(atts) != 1 || atts[0].EndpointID != ep.ID {
			t.Errorf("attempts of the deleted endpoint: %+v, %v", atts, err)
		}
	})
}

func TestListWebhookEndpointsPagesNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		var created []string
		for i := range 5 {
			created = append(created, newEndpoint(t, db, ten.aTest, fmt.Sprintf("whsec_%d", i)).ID)
			newEndpoint(t, db, ten.aLive, "whsec_live") // interleaved, never listed for aTest
		}
		slices.Reverse(created)

		var got []string
		p := billing.ListParams{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("more than 3 pages of 2 for 5 endpoints")
			}
			pg, err := db.ListWebhookEndpoints(ctx, ten.aTest, p)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(pg.Items, endpointID)...)
			if !pg.HasMore {
				break
			}
			p.StartingAfter = pg.Items[len(pg.Items)-1].ID
		}
		if !slices.Equal(got, created) {
			t.Errorf("paged %v, want newest first %v", got, created)
		}
		all, err := db.ListWebhookEndpoints(ctx, ten.aTest, billing.ListParams{})
		if err != nil || len(all.Items) != 5 || all.HasMore {
			t.Errorf("default page: %d items, more %v, %v", len(all.Items), all.HasMore, err)
		}
		for _, limit := range []int{-1, billing.MaxListLimit + 1} {
			_, err := db.ListWebhookEndpoints(ctx, ten.aTest, billing.ListParams{Limit: limit})
			wantKind(t, fmt.Sprintf("limit %d", limit), err, billing.KindInvalid, "invalid_value")
		}
	})
}

func TestEnabledWebhookEndpointsMatchTypeOldestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		all := newEndpoint(t, db, ten.aTest, "whsec_all", "*")
		payments := newEndpoint(t, db, ten.aTest, "whsec_pay", "payment.succeeded", "payment.failed")
		plans := newEndpoint(t, db, ten.aTest, "whsec_plan", "plan.canceled")
		gone := newEndpoint(t, db, ten.aTest, "whsec_gone", "*")
		newEndpoint(t, db, ten.aLive, "whsec_live", "*")
		if err := db.DisableWebhookEndpoint(ctx, ten.aTest.MerchantID, gone.ID, "the receiver answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.GetWebhookEndpoint(ctx, ten.aTest, gone.ID); err != nil || got.Status != billing.WebhookDisabled ||
			got.DisabledReason != "the receiver answered 410 Gone" {
			t.Errorf("disabled endpoint %+v, %v", got, err)
		}
		for typ, want := range map[string][]string{
			"payment.failed": {all.ID, payments.ID},
			"plan.canceled":  {all.ID, plans.ID},
			"plan.created":   {all.ID},
		} {
			got, err := db.EnabledWebhookEndpoints(ctx, ten.aTest.MerchantID, ten.aTest.Mode, typ)
			if err != nil || !slices.Equal(ids(got, endpointID), want) {
				t.Errorf("%s: %v, %v; want %v", typ, ids(got, endpointID), err, want)
			}
		}
	})
}

func TestEventsAreScopedAndListedByTypeNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		var succeeded []string
		for i := range 5 {
			succeeded = append(succeeded, newEvent(t, db, ten.aTest, "payment.succeeded", fmt.Sprintf("s%d", i)).ID)
			newEvent(t, db, ten.aTest, "payment.failed", fmt.Sprintf("f%d", i))
			newEvent(t, db, ten.aLive, "payment.succeeded", fmt.Sprintf("live%d", i))
			newEvent(t, db, ten.bTest, "payment.succeeded", fmt.Sprintf("b%d", i))
		}
		slices.Reverse(succeeded)

		var got []string
		p := billing.ListParams{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("more than 3 pages of 2 for 5 events")
			}
			pg, err := db.ListEvents(ctx, ten.aTest, "payment.succeeded", p)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range pg.Items {
				if ev.Type != "payment.succeeded" || ev.MerchantID != ten.aTest.MerchantID || ev.Mode != ten.aTest.Mode {
					t.Errorf("listed %+v", ev)
				}
			}
			got = append(got, ids(pg.Items, eventID)...)
			if !pg.HasMore {
				break
			}
			p.StartingAfter = pg.Items[len(pg.Items)-1].ID
		}
		if !slices.Equal(got, succeeded) {
			t.Errorf("paged %v, want newest first %v", got, succeeded)
		}
		if all, err := db.ListEvents(ctx, ten.aTest, "", billing.ListParams{Limit: billing.MaxListLimit}); err != nil || len(all.Items) != 10 {
			t.Errorf("every type: %d events, %v; want 10", len(all.Items), err)
		}
		_, err := db.ListEvents(ctx, ten.bTest, "", billing.ListParams{StartingAfter: succeeded[0]})
		wantKind(t, "another merchant's cursor", err, billing.KindInvalid, "resource_missing")

		ev := succeeded[0]
		if got, err := db.GetEvent(ctx, ten.aTest, ev); err != nil || got.ID != ev || got.DispatchedAt != nil {
			t.Errorf("get own event: %+v, %v", got, err)
		}
		for name, other := range map[string]billing.Caller{"the other mode": ten.aLive, "another merchant": ten.bTest} {
			_, err := db.GetEvent(ctx, other, ev)
			wantKind(t, name+": get event", err, billing.KindNotFound, "resource_missing")
			_, err = db.ListWebhookAttempts(ctx, other, ev)
			wantKind(t, name+": list attempts", err, billing.KindNotFound, "resource_missing")
		}
		// Deliveries read by merchant: another merchant's id finds nothing.
		_, err = db.EventByID(ctx, ten.bTest.MerchantID, ev)
		wantKind(t, "event by another merchant", err, billing.KindNotFound, "resource_missing")
		if got, err := db.EventByID(ctx, ten.aTest.MerchantID, ev); err != nil || got.ID != ev {
			t.Errorf("event by its merchant: %+v, %v", got, err)
		}
	})
}

func TestUndispatchedEventsAndMarkDispatched(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		clk := setClock(db, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		// Every merchant and mode shares the outbox, oldest first.
		var want []string
		for i, c := range []billing.Caller{ten.aTest, ten.bTest, ten.aLive, ten.aTest} {
			want = append(want, newEvent(t, db, c, "payment.succeeded", fmt.Sprintf("k%d", i)).ID)
		}
		undispatched := func(limit int) []string {
			t.Helper()
			evs, err := db.UndispatchedEvents(ctx, limit)
			if err != nil {
				t.Fatal(err)
			}
			return ids(evs, eventID)
		}
		if got := undispatched(10); !slices.Equal(got, want) {
			t.Errorf("undispatched %v, want %v", got, want)
		}
		if got := undispatched(2); !slices.Equal(got, want[:2]) {
			t.Errorf("undispatched, limit 2: %v, want %v", got, want[:2])
		}

		first := clk.t
		if err := db.MarkEventDispatched(ctx, want[1]); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Hour)
		if err := db.MarkEventDispatched(ctx, want[1]); err != nil {
			t.Errorf("mark twice: %v", err)
		}
		ev, err := db.GetEvent(ctx, ten.bTest, want[1])
		if err != nil || ev.DispatchedAt == nil || !ev.DispatchedAt.Equal(first) {
			t.Errorf("dispatched_at %v (%v), want the first mark %s", ev.DispatchedAt, err, first)
		}
		if err := db.MarkEventDispatched(ctx, "evt_missing"); err != nil {
			t.Errorf("mark an unknown event: %v", err)
		}
		if got := undispatched(10); !slices.Equal(got, []string{want[0], want[2], want[3]}) {
			t.Errorf("after marking %s: %v", want[1], got)
		}
		for _, id := range want {
			if err := db.MarkEventDispatched(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if got := undispatched(10); len(got) != 0 {
			t.Errorf("after marking all: %v", got)
		}
	})
}

func TestWebhookAttemptsAreRecordedOnceAndListedOldestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		clk := setClock(db, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
		one := newEndpoint(t, db, ten.aTest, "whsec_1")
		two := newEndpoint(t, db, ten.aTest, "whsec_2")
		ev := newEvent(t, db, ten.aTest, "payment.succeeded", "k1")
		otherEv := newEvent(t, db, ten.aTest, "payment.failed", "k2")

		if got, err := db.ListWebhookAttempts(ctx, ten.aTest, ev.ID); err != nil || got == nil || len(got) != 0 {
			t.Errorf("no attempts yet: %#v, %v; want an empty list", got, err)
		}
		att := func(endpoint billing.WebhookEndpoint, event billing.Event, delivery string, n, status int, msg string) billing.WebhookAttempt {
			return billing.WebhookAttempt{MerchantID: ten.aTest.MerchantID, Mode: ten.aTest.Mode, EventID: event.ID,
				EndpointID: endpoint.ID, DeliveryID: delivery, Attempt: n, URL: endpoint.URL, StatusCode: status,
				Error: msg, DurationMS: int64(10 * n)}
		}
		record := []billing.WebhookAttempt{
			att(one, ev, "whd_1", 1, 500, "HTTP 500"),
			att(two, ev, "whd_2", 1, 200, ""),
			att(one, otherEv, "whd_3", 1, 200, ""),
			att(one, ev, "whd_1", 2, 200, ""),
			att(one, ev, "whd_1", 1, 204, ""), // a retried activity: the first record stands
		}
		for _, a := range record {
			clk.advance(time.Second)
			if err := db.RecordWebhookAttempt(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.ListWebhookAttempts(ctx, ten.aTest, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		type key struct {
			delivery string
			n, code  int
		}
		var keys []key
		for _, a := range got {
			keys = append(keys, key{a.DeliveryID, a.Attempt, a.StatusCode})
			if a.ID == "" || a.EventID != ev.ID || a.Mode != ten.aTest.Mode || a.URL != one.URL {
				t.Errorf("attempt %+v", a)
			}
		}
		want := []key{{"whd_1", 1, 500}, {"whd_2", 1, 200}, {"whd_1", 2, 200}}
		if !slices.Equal(keys, want) {
			t.Fatalf("attempts %v, want oldest first %v", keys, want)
		}
		start := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		if !got[0].CreatedAt.Equal(start.Add(time.Second)) || !got[2].CreatedAt.Equal(start.Add(4*time.Second)) ||
			got[0].Error != "HTTP 500" || got[0].DurationMS != 10 || got[0].EndpointID != one.ID || got[1].EndpointID != two.ID {
			t.Errorf("attempt fields: %+v", got)
		}
	})
}
