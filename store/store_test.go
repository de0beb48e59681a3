package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/store"
)

// forEachDialect runs one contract test against a fresh, migrated store of every dialect.
func forEachDialect(t *testing.T, test func(t *testing.T, db *store.DB)) {
	for name, newURL := range testdb.URLs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, newURL(t))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			test(t, db)
		})
	}
}

func TestMigrateIsIdempotentAndTracked(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pending, err := db.Pending(ctx)
		if err != nil || pending {
			t.Fatalf("after Migrate: pending=%v err=%v, want no pending migrations", pending, err)
		}
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second Migrate applied %d (err %v), want 0", n, err)
		}
	})
}

func TestPendingBeforeMigrate(t *testing.T) {
	for name, newURL := range testdb.URLs() {
		t.Run(name, func(t *testing.T) {
			db, err := store.Open(context.Background(), newURL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			pending, err := db.Pending(context.Background())
			if err != nil || !pending {
				t.Fatalf("fresh database: pending=%v err=%v, want pending", pending, err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		testKey, liveKey := store.NewSecretKey(billing.ModeTest), store.NewSecretKey(billing.ModeLive)
		m, err := db.CreateMerchant(ctx, "Acme", testKey, liveKey)
		if err != nil {
			t.Fatalf("create merchant: %v", err)
		}
		for key, mode := range map[string]billing.Mode{testKey: billing.ModeTest, liveKey: billing.ModeLive} {
			caller, err := db.Authenticate(ctx, key)
			if err != nil {
				t.Fatalf("authenticate %s key: %v", mode, err)
			}
			if caller.MerchantID != m.ID || caller.Mode != mode {
				t.Errorf("authenticate %s key = %+v, want merchant %s mode %s", mode, caller, m.ID, mode)
			}
		}
		for _, bad := range []string{"", "sk_test_", testKey + "x", strings.Replace(testKey, "sk_test_", "sk_live_", 1), "pk_test_abc"} {
			if _, err := db.Authenticate(ctx, bad); billing.KindOf(err) != billing.KindUnauthenticated {
				t.Errorf("authenticate %q: err %v, want unauthenticated", bad, err)
			}
		}
	})
}

func TestKeysAreStoredHashed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := store.NewSecretKey(billing.ModeTest)
		if _, err := db.CreateMerchant(ctx, "Acme", key); err != nil {
			t.Fatal(err)
		}
		var stored []string
		if err := db.SelectContext(ctx, &stored, `SELECT key_hash || key_hint FROM api_keys`); err != nil {
			t.Fatal(err)
		}
		secretPart := strings.TrimPrefix(key, "sk_test_")
		for _, s := range stored {
			if strings.Contains(s, secretPart[:16]) {
				t.Fatalf("api_keys row holds the key in the clear: %q", s)
			}
		}
	})
}

func TestDuplicateKeyIsConflict(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := store.NewSecretKey(billing.ModeTest)
		m, err := db.CreateMerchant(ctx, "Acme", key)
		if err != nil {
			t.Fatal(err)
		}
		err = db.AddAPIKey(ctx, m.ID, key)
		if billing.KindOf(err) != billing.KindConflict {
			t.Fatalf("adding the same key twice: %v, want a conflict", err)
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://u:secret@host/db")
	if err == nil || !strings.Contains(err.Error(), "scheme not supported") {
		t.Fatalf("Open(mysql://…) = %v, want a scheme error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}
