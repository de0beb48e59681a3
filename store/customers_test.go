package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/store"
)

// tenants are three callers: merchant A in test and live mode, and merchant B in test
// mode, for checking that no query crosses merchants or modes.
type tenants struct {
	aTest, aLive, bTest billing.Caller
}

func newTenants(t *testing.T, db *store.DB) tenants {
	t.Helper()
	ctx := context.Background()
	if db.Keyring == nil {
		kr, err := seal.Parse(seal.Generate("k1"))
		if err != nil {
			t.Fatal(err)
		}
		db.Keyring = kr
	}
	a, err := db.CreateMerchant(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.CreateMerchant(ctx, "B")
	if err != nil {
		t.Fatal(err)
	}
	return tenants{
		aTest: billing.Caller{MerchantID: a.ID, Mode: billing.ModeTest},
		aLive: billing.Caller{MerchantID: a.ID, Mode: billing.ModeLive},
		bTest: billing.Caller{MerchantID: b.ID, Mode: billing.ModeTest},
	}
}

func wantKind(t *testing.T, what string, err error, kind billing.Kind, code string) {
	t.Helper()
	var be *billing.Error
	if billing.KindOf(err) != kind || !errors.As(err, &be) || (code != "" && be.Code != code) {
		t.Errorf("%s: err %v, want %s %s", what, err, kind, code)
	}
}

func TestCustomerLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		c, err := db.CreateCustomer(ctx, ten.aTest, billing.NewCustomer{
			Email: "Ada@Example.com", FirstName: "Ada", LastName: "Lovelace",
			Address:  &billing.Address{Line1: "12 St James's Sq", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
			Metadata: map[string]string{"crm_id": "42", "empty": ""},
		})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if c.ID[:4] != billing.PrefixCustomer || c.Mode != billing.ModeTest || c.MerchantID != ten.aTest.MerchantID {
			t.Fatalf("created %+v", c)
		}
		if _, ok := c.Metadata["empty"]; ok || c.Metadata["crm_id"] != "42" {
			t.Errorf("metadata %v: empty values are not stored", c.Metadata)
		}
		got, err := db.GetCustomer(ctx, ten.aTest, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "Ada@Example.com" || got.Address == nil || got.Address.Country != "GB" || got.Address.Line2 != "" ||
			!got.CreatedAt.Equal(c.CreatedAt) || got.Metadata["crm_id"] != "42" {
			t.Errorf("read back %+v (address %+v), want what was created", got, got.Address)
		}

		// Scoping: another merchant, or the other mode, sees nothing.
		for name, other := range map[string]billing.Caller{"other merchant": ten.bTest, "live mode": ten.aLive} {
			_, err := db.GetCustomer(ctx, other, c.ID)
			wantKind(t, name+" get", err, billing.KindNotFound, "resource_missing")
			_, err = db.UpdateCustomer(ctx, other, c.ID, billing.CustomerPatch{FirstName: ptr("Eve")})
			wantKind(t, name+" update", err, billing.KindNotFound, "resource_missing")
			_, err = db.DeleteCustomer(ctx, other, c.ID)
			wantKind(t, name+" delete", err, billing.KindNotFound, "resource_missing")
			p, err := db.ListCustomers(ctx, other, billing.CustomerFilter{}, billing.ListParams{})
			if err != nil || len(p.Items) != 0 {
				t.Errorf("%s list: %d items, %v", name, len(p.Items), err)
			}
		}

		up, err := db.UpdateCustomer(ctx, ten.aTest, c.ID, billing.CustomerPatch{
			FirstName: ptr(""), SetAddress: true, Address: nil,
			Metadata: map[string]string{"crm_id": "", "plan": "gold"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.FirstName != "" || up.LastName != "Lovelace" || up.Address != nil || up.Email != "Ada@Example.com" ||
			len(up.Metadata) != 1 || up.Metadata["plan"] != "gold" || up.UpdatedAt.Before(c.UpdatedAt) {
			t.Errorf("after patch: %+v", up)
		}
		// The merged metadata is bounded.
		many := map[string]string{}
		for i := range store.MaxMetadataKeys {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		_, err = db.UpdateCustomer(ctx, ten.aTest, c.ID, billing.CustomerPatch{Metadata: many})
		wantKind(t, "51 metadata keys", err, billing.KindInvalid, "invalid_metadata")

		if _, err := db.DeleteCustomer(ctx, ten.aTest, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetCustomer(ctx, ten.aTest, c.ID)
		wantKind(t, "get deleted", err, billing.KindNotFound, "resource_missing")
		_, err = db.DeleteCustomer(ctx, ten.aTest, c.ID)
		wantKind(t, "delete twice", err, billing.KindNotFound, "resource_missing")
		// Personal data is erased; the row stays as a tombstone.
		var email, name *string
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT email, last_name FROM customers WHERE id = ?`), c.ID).Scan(&email, &name); err != nil {
			t.Fatal(err)
		}
		if email != nil || name != nil {
			t.Errorf("deleted customer keeps email %v, name %v", email, name)
		}
	})
}

func TestListCustomersPagesNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		var ids []string
		for i := range 7 {
			email := fmt.Sprintf("user%d@example.com", i)
			if i%2 == 0 {
				email = "Shared@Example.com"
			}
			c, err := db.CreateCustomer(ctx, ten.aTest, billing.NewCustomer{Email: email})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
			// Noise in other scopes.
			if _, err := db.CreateCustomer(ctx, ten.bTest, billing.NewCustomer{Email: email}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.CreateCustomer(ctx, ten.aLive, billing.NewCustomer{Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		after := ""
		for pages := 0; ; pages++ {
			p, err := db.ListCustomers(ctx, ten.aTest, billing.CustomerFilter{}, billing.ListParams{Limit: 3, StartingAfter: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Items {
				seen = append(seen, c.ID)
			}
			if !p.HasMore {
				break
			}
			after = p.Items[len(p.Items)-1].ID
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != len(ids) {
			t.Fatalf("paged through %d customers, want %d", len(seen), len(ids))
		}
		for i := range ids {
			if seen[i] != ids[len(ids)-1-i] {
				t.Fatalf("order %v, want newest first %v", seen, ids)
			}
		}

		p, err := db.ListCustomers(ctx, ten.aTest, billing.CustomerFilter{Email: "shared@example.COM"}, billing.ListParams{Limit: 100})
		if err != nil || len(p.Items) != 4 || p.HasMore {
			t.Errorf("email filter: %d items (has_more %v), %v; want 4", len(p.Items), p.HasMore, err)
		}

		_, err = db.ListCustomers(ctx, ten.bTest, billing.CustomerFilter{}, billing.ListParams{StartingAfter: ids[0]})
		wantKind(t, "another merchant's cursor", err, billing.KindInvalid, "resource_missing")
		_, err = db.ListCustomers(ctx, ten.aTest, billing.CustomerFilter{}, billing.ListParams{Limit: 101})
		wantKind(t, "limit 101", err, billing.KindInvalid, "invalid_value")
	})
}

func ptr[T any](v T) *T { return &v }
