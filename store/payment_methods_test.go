package store_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/store"
)

const testToken = "tok_sim_THE-PROVIDER-TOKEN-1234567890"

func newCard(t *testing.T, db *store.DB, caller billing.Caller, customerID string) billing.PaymentMethod {
	t.Helper()
	pm, err := db.CreatePaymentMethod(context.Background(), caller, billing.NewPaymentMethod{
		CustomerID: customerID, Provider: "simulator", ProviderCustomerRef: "cus_sim_1", Token: testToken,
		Card: billing.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2040, Fingerprint: "fp_1"},
	})
	if err != nil {
		t.Fatalf("create payment method: %v", err)
	}
	return pm
}

func newCustomer(t *testing.T, db *store.DB, caller billing.Caller) billing.Customer {
	t.Helper()
	c, err := db.CreateCustomer(context.Background(), caller, billing.NewCustomer{Email: "c@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPaymentMethodLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		pm := newCard(t, db, ten.aTest, cus.ID)
		if !strings.HasPrefix(pm.ID, billing.PrefixPaymentMethod) || pm.Status != billing.PaymentMethodActive ||
			pm.Card == nil || pm.Card.Last4 != "4242" || pm.Card.ExpYear != 2040 {
			t.Fatalf("created %+v", pm)
		}
		// The token is stored sealed, never in the clear.
		var stored []byte
		var kid string
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT token, token_key_id FROM payment_methods WHERE id = ?`), pm.ID).Scan(&stored, &kid); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte(testToken)) || kid != "k1" {
			t.Fatalf("token stored as %q under %q", stored, kid)
		}
		cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID)
		if err != nil || cred.Token != testToken || cred.Provider != "simulator" || cred.CustomerRef != "cus_sim_1" ||
			cred.Blocked || cred.Detached || cred.NetworkTransactionID != "" {
			t.Fatalf("chargeable card %+v, %v", cred, err)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", cred, cred, cred), testToken) {
			t.Error("ChargeableCard prints its token")
		}
		// The initial payment's network id is kept, and only the first one.
		for _, rec := range []struct{ merchant, nti string }{
			{ten.aTest.MerchantID, "nti_1"}, {ten.aTest.MerchantID, "nti_2"}, {ten.bTest.MerchantID, "nti_other"},
		} {
			if err := db.RecordNetworkTransactionID(ctx, rec.merchant, pm.ID, rec.nti); err != nil {
				t.Fatal(err)
			}
		}
		if cred, _ = db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); cred.NetworkTransactionID != "nti_1" {
			t.Errorf("network transaction id %q, want the first, nti_1", cred.NetworkTransactionID)
		}
		if ref, err := db.ProviderCustomerRef(ctx, ten.aTest, cus.ID, "simulator"); err != nil || ref != "cus_sim_1" {
			t.Errorf("provider customer ref %q, %v", ref, err)
		}

		// Scoping.
		for name, other := range map[string]billing.Caller{"other merchant": ten.bTest, "live mode": ten.aLive} {
			_, err := db.GetPaymentMethod(ctx, other, pm.ID)
			wantKind(t, name+" get", err, billing.KindNotFound, "resource_missing")
			_, err = db.BlockPaymentMethod(ctx, other, pm.ID)
			wantKind(t, name+" block", err, billing.KindNotFound, "resource_missing")
			_, err = db.UnblockPaymentMethod(ctx, other, pm.ID)
			wantKind(t, name+" unblock", err, billing.KindNotFound, "resource_missing")
			_, err = db.DetachPaymentMethod(ctx, other, pm.ID)
			wantKind(t, name+" detach", err, billing.KindNotFound, "resource_missing")
			if other.MerchantID != ten.aTest.MerchantID {
				_, err = db.ChargeableCard(ctx, other.MerchantID, pm.ID)
				wantKind(t, name+" chargeable card", err, billing.KindNotFound, "resource_missing")
			}
			_, err = db.ListPaymentMethods(ctx, other, cus.ID, billing.ListParams{})
			wantKind(t, name+" list", err, billing.KindNotFound, "resource_missing")
			_, err = db.CreatePaymentMethod(ctx, other, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "simulator", Token: "t"})
			wantKind(t, name+" create for the customer", err, billing.KindNotFound, "resource_missing")
		}

		blocked, err := db.BlockPaymentMethod(ctx, ten.aTest, pm.ID)
		if err != nil || blocked.Status != billing.PaymentMethodBlocked {
			t.Fatalf("block: %+v, %v", blocked, err)
		}
		if again, err := db.BlockPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || again.Status != billing.PaymentMethodBlocked {
			t.Errorf("block twice: %+v, %v", again, err)
		}
		if cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || !cred.Blocked || cred.Token != "" {
			t.Errorf("a blocked card: %+v, %v; want blocked without its token", cred, err)
		}
		if un, err := db.UnblockPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || un.Status != billing.PaymentMethodActive {
			t.Fatalf("unblock: %+v, %v", un, err)
		}

		other := newCard(t, db, ten.aTest, cus.ID)
		list, err := db.ListPaymentMethods(ctx, ten.aTest, cus.ID, billing.ListParams{})
		if err != nil || len(list.Items) != 2 || list.Items[0].ID != other.ID {
			t.Fatalf("list: %+v, %v", list, err)
		}

		det, err := db.DetachPaymentMethod(ctx, ten.aTest, pm.ID)
		if err != nil || det.Status != billing.PaymentMethodDetached || det.Card != nil || det.DetachedAt == nil {
			t.Fatalf("detach: %+v, %v", det, err)
		}
		if again, err := db.DetachPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || !again.DetachedAt.Equal(*det.DetachedAt) {
			t.Errorf("detach twice: %+v, %v", again, err)
		}
		_, err = db.UnblockPaymentMethod(ctx, ten.aTest, pm.ID)
		wantKind(t, "unblock a detached card", err, billing.KindConflict, billing.CodePaymentMethodDetached)
		_, err = db.BlockPaymentMethod(ctx, ten.aTest, pm.ID)
		wantKind(t, "block a detached card", err, billing.KindConflict, billing.CodePaymentMethodDetached)
		if cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || !cred.Detached || cred.Token != "" || cred.NetworkTransactionID != "" {
			t.Errorf("a detached card: %+v, %v; want detached with nothing left", cred, err)
		}
		// The tombstone keeps the row but nothing of the card.
		var token []byte
		var last4, fp *string
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT token, last4, fingerprint FROM payment_methods WHERE id = ?`), pm.ID).Scan(&token, &last4, &fp); err != nil {
			t.Fatal(err)
		}
		if token != nil || last4 != nil || fp != nil {
			t.Errorf("tombstone keeps token %x last4 %v fingerprint %v", token, last4, fp)
		}
		if got, err := db.GetPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || got.Status != billing.PaymentMethodDetached {
			t.Errorf("get tombstone: %+v, %v", got, err)
		}
		list, err = db.ListPaymentMethods(ctx, ten.aTest, cus.ID, billing.ListParams{})
		if err != nil || len(list.Items) != 1 || list.Items[0].ID != other.ID {
			t.Errorf("list after detach: %+v, %v", list, err)
		}
		// The schema itself refuses to bring a tombstone back.
		_, err = db.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET status = 'active' WHERE id = ?`), pm.ID)
		if err == nil {
			t.Error("the schema lets a detached card become active without a token")
		}
	})
}

func TestDeleteCustomerDetachesItsCards(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		pm1, pm2 := newCard(t, db, ten.aTest, cus.ID), newCard(t, db, ten.aTest, cus.ID)
		if _, err := db.DetachPaymentMethod(ctx, ten.aTest, pm1.ID); err != nil {
			t.Fatal(err)
		}
		detached, err := db.DeleteCustomer(ctx, ten.aTest, cus.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(detached) != 1 || detached[0] != pm2.ID {
			t.Errorf("delete detached %v, want only the still-attached %s", detached, pm2.ID)
		}
		if got, err := db.GetPaymentMethod(ctx, ten.aTest, pm2.ID); err != nil || got.Status != billing.PaymentMethodDetached {
			t.Errorf("card of a deleted customer: %+v, %v", got, err)
		}
		_, err = db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "simulator", Token: "t"})
		wantKind(t, "save a card for a deleted customer", err, billing.KindNotFound, "resource_missing")
	})
}

// Rotation: rows sealed under an old key stay readable once a new key is active, and
// ResealTokens moves them to the new key.
func TestTokenKeyRotation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		oldSpec := seal.Generate("old")
		oldRing, _ := seal.Parse(oldSpec)
		db.Keyring = oldRing
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		pm := newCard(t, db, ten.aTest, cus.ID)
		acc, err := db.CreateProviderAccount(ctx, ten.aTest, billing.NewProviderAccount{Provider: "stripe", Name: "s",
			Credentials: billing.Credentials{"secret_key": "sk_test_rotate"}})
		if err != nil {
			t.Fatal(err)
		}
		detached := newCard(t, db, ten.aTest, cus.ID)
		if _, err := db.DetachPaymentMethod(ctx, ten.aTest, detached.ID); err != nil {
			t.Fatal(err)
		}

		newSpec := seal.Generate("new")
		newRing, err := seal.Parse(newSpec + "," + oldSpec)
		if err != nil {
			t.Fatal(err)
		}
		db.Keyring = newRing
		if cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || cred.Token != testToken {
			t.Fatalf("old row after adding a key: %v", err)
		}
		fresh := newCard(t, db, ten.aTest, cus.ID)
		kidOf := func(id string) string {
			var kid string
			if err := db.GetContext(ctx, &kid, db.Rebind(`SELECT token_key_id FROM payment_methods WHERE id = ?`), id); err != nil {
				t.Fatal(err)
			}
			return kid
		}
		if kidOf(fresh.ID) != "new" || kidOf(pm.ID) != "old" {
			t.Fatalf("key ids: fresh %s, old row %s", kidOf(fresh.ID), kidOf(pm.ID))
		}
		n, err := db.ResealTokens(ctx, 100)
		if err != nil || n != 3 {
			t.Fatalf("reseal: %d, %v; want 3 rows (a card, a detached card's removal at its provider, an account)", n, err)
		}
		if kidOf(pm.ID) != "new" {
			t.Errorf("resealed row still under %s", kidOf(pm.ID))
		}
		// With the old key gone, every row still opens.
		newOnly, err := seal.Parse(newSpec)
		if err != nil {
			t.Fatal(err)
		}
		db.Keyring = newOnly
		if cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || cred.Token != testToken {
			t.Errorf("resealed row without the old key: %v", err)
		}
		if keys, err := db.ProviderAccountKeys(ctx, ten.aTest.MerchantID, acc.ID); err != nil || keys.Credentials["secret_key"] != "sk_test_rotate" {
			t.Errorf("resealed account without the old key: %v", err)
		}
		if c, ok, err := db.CredentialToRemove(ctx, ten.aTest.MerchantID, detached.ID); err != nil || !ok || c.Token != testToken {
			t.Errorf("the detached card's removal without the old key: %v, %v", ok, err)
		}
	})
}

// TestImportedPaymentMethod: an imported card keeps its flag and the network
// transaction id of its original payment (what the first merchant-initiated charge
// references); a card saved the usual way has neither. Both stores.
func TestImportedPaymentMethod(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		pm, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{
			CustomerID: cus.ID, Provider: "stripe", ProviderCustomerRef: "cus_old", Token: "pm_old",
			Card: billing.CardDetails{Brand: "visa", Last4: "4444", ExpMonth: 11, ExpYear: 2033}, Imported: true,
			NetworkTransactionID: "583215937561234",
		})
		if err != nil || !pm.Imported {
			t.Fatalf("imported card %+v, %v", pm, err)
		}
		if got, err := db.GetPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || !got.Imported {
			t.Errorf("read back %+v, %v; want imported", got, err)
		}
		cred, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID)
		if err != nil || cred.NetworkTransactionID != "583215937561234" || cred.Token != "pm_old" {
			t.Errorf("chargeable %v, %v; want the imported network id", cred, err)
		}
		if plain := newCard(t, db, ten.aTest, cus.ID); plain.Imported {
			t.Error("a card saved the usual way reads as imported")
		}
	})
}

// TestProviderAccounts: an account's credentials are sealed at rest and come back
// only through ProviderAccountKeys; the API view names the fields set; accounts are
// per merchant and mode; deleting one is refused while an unfinished plan charges a
// card saved on it, and erases the credentials once allowed. Both stores.
func TestProviderAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		const phrase = "super-secret-request-phrase"
		acc, err := db.CreateProviderAccount(ctx, ten.aTest, billing.NewProviderAccount{Provider: "amazon_payment_services",
			Name: "KSA shop", BaseURL: "https://sbpaymentservices.payfort.com", Credentials: billing.Credentials{
				"access_code": "ac1", "merchant_identifier": "mid1", "request_phrase": phrase, "response_phrase": "rp", "sha_type": "SHA-256"}})
		if err != nil || !strings.HasPrefix(acc.ID, "pa_") || strings.Join(acc.CredentialFields, ",") != "access_code,merchant_identifier,request_phrase,response_phrase,sha_type" {
			t.Fatalf("created %+v, %v", acc, err)
		}
		var sealed []byte
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT credentials FROM provider_accounts WHERE id = ?`), acc.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte(phrase)) || bytes.Contains(sealed, []byte("mid1")) {
			t.Fatal("credentials stored in the clear")
		}
		keys, err := db.ProviderAccountKeys(ctx, ten.aTest.MerchantID, acc.ID)
		if err != nil || keys.Credentials["request_phrase"] != phrase || keys.Provider != "amazon_payment_services" || keys.Mode != billing.ModeTest {
			t.Fatalf("keys %v, %v", keys.Credentials, err)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", keys.Credentials, keys.Credentials, keys.Credentials), phrase) {
			t.Error("credentials print their values")
		}
		if _, err := db.GetProviderAccount(ctx, ten.bTest, acc.ID); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("another merchant reads the account: %v", err)
		}
		if _, err := db.GetProviderAccount(ctx, ten.aLive, acc.ID); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("live mode reads a test account: %v", err)
		}
		if _, err := db.ProviderAccountKeys(ctx, ten.bTest.MerchantID, acc.ID); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("another merchant unseals the account: %v", err)
		}
		list, err := db.ListProviderAccounts(ctx, ten.aTest, billing.ListParams{})
		if err != nil || len(list.Items) != 1 || list.Items[0].ID != acc.ID {
			t.Errorf("list %+v, %v", list, err)
		}

		cus := newCustomer(t, db, ten.aTest)
		pm, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "amazon_payment_services",
			ProviderCustomerRef: "c@example.com", Token: "tok1", Card: billing.CardDetails{Brand: "visa", Last4: "0001", ExpMonth: 1, ExpYear: 2031},
			ProviderAccount: acc.ID})
		if err != nil || pm.ProviderAccount != acc.ID {
			t.Fatalf("card on the account %+v, %v", pm, err)
		}
		if card, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || card.ProviderAccount != acc.ID {
			t.Errorf("chargeable %v, %v; want the account", card, err)
		}
		if ref, _ := db.ProviderCustomerRef(ctx, ten.aTest, cus.ID, acc.ID); ref != "c@example.com" {
			t.Errorf("customer ref in the account %q", ref)
		}
		if ref, _ := db.ProviderCustomerRef(ctx, ten.aTest, cus.ID, "amazon_payment_services"); ref != "" {
			t.Errorf("the account's customer ref leaks to the installation's provider: %q", ref)
		}
		plan := billing.Plan{ID: "plan_acc1", MerchantID: ten.aTest.MerchantID, Mode: billing.ModeTest, CustomerID: cus.ID,
			PaymentMethodID: pm.ID, Provider: "amazon_payment_services", Status: billing.PlanActive, Currency: "SAR", Type: "ecom",
			Schedule: billing.JSONDoc(`{}`), Timetable: billing.JSONDoc(`{}`), Dunning: billing.JSONDoc(`{}`),
			CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if _, _, err := db.CreatePlan(ctx, plan); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteProviderAccount(ctx, ten.aTest, acc.ID); billing.KindOf(err) != billing.KindConflict {
			t.Fatalf("delete while an active plan uses it: %v, want a conflict", err)
		}
		// A one-off payment whose outcome is unknown needs the account to be settled.
		if _, err := db.RecordPayment(ctx, billing.Payment{ID: "pay_acc_pending", MerchantID: ten.aTest.MerchantID, Mode: billing.ModeTest,
			CustomerID: cus.ID, PaymentMethodID: pm.ID, Attempt: 1, Amount: 500, Currency: "SAR", Status: billing.PaymentPending,
			FailureCode: billing.CodeTimeout, FailureClass: "transient",
			PaymentType: billing.PaymentOneOff, IdempotencyKey: "pay_acc_pending", AttemptedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: plan.ID, Seq: 1,
			Status: billing.PlanCanceled, PaymentMethodID: pm.ID}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteProviderAccount(ctx, ten.aTest, acc.ID); billing.KindOf(err) != billing.KindConflict {
			t.Fatalf("delete while a payment is pending: %v, want a conflict", err)
		}
		if _, err := db.RecordPayment(ctx, billing.Payment{ID: "pay_acc_pending", MerchantID: ten.aTest.MerchantID, Mode: billing.ModeTest,
			CustomerID: cus.ID, PaymentMethodID: pm.ID, Attempt: 1, Amount: 500, Currency: "SAR", Status: billing.PaymentSucceeded,
			PaymentType: billing.PaymentOneOff, IdempotencyKey: "pay_acc_pending", AttemptedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// An open page saving cards in the account (a hosted payment's) holds it too,
		// until it ends; an open page of a plan that ended does not.
		page := billing.PaymentSession{ID: "pay_acc_page", CustomerID: cus.ID, Amount: 500, Currency: "SAR", Type: "ecom",
			Provider: "amazon_payment_services", ProviderAccount: acc.ID, Token: "tok_acc_page", TokenHash: "hash_acc_page",
			ExpiresAt: time.Now().Add(time.Hour)}
		if _, err := db.CreatePaymentSession(ctx, ten.aTest, page); err != nil {
			t.Fatal(err)
		}
		ended := page
		ended.ID, ended.Token, ended.TokenHash, ended.PlanID = "ps_acc_ended", "tok_acc_ended", "hash_acc_ended", plan.ID
		if _, err := db.CreatePaymentSession(ctx, ten.aTest, ended); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteProviderAccount(ctx, ten.aTest, acc.ID); billing.KindOf(err) != billing.KindConflict ||
			!strings.Contains(err.Error(), "open payment page") {
			t.Fatalf("delete while a page is open on the account: %v, want a conflict naming the page", err)
		}
		if err := db.SetPaymentSession(ctx, billing.PaymentSessionUpdate{MerchantID: ten.aTest.MerchantID, ID: page.ID,
			Status: billing.PaymentSessionExpired, Outcome: billing.PaymentExpired}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteProviderAccount(ctx, ten.aTest, acc.ID); err != nil {
			t.Fatalf("delete once the plan is canceled and the payment settled: %v", err)
		}
		if _, err := db.ProviderAccountKeys(ctx, ten.aTest.MerchantID, acc.ID); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("keys of a deleted account: %v", err)
		}
		// A plan whose row comes after the delete (its workflow started just before)
		// is refused: it could never be charged.
		late := plan
		late.ID = "plan_acc_late"
		if _, _, err := db.CreatePlan(ctx, late); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("a plan on a card of the deleted account: %v, want a conflict", err)
		}
		if err := db.DeleteProviderAccount(ctx, ten.aTest, acc.ID); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("second delete: %v", err)
		}
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT credentials FROM provider_accounts WHERE id = ?`), acc.ID).Scan(&sealed); err != nil || sealed != nil {
			t.Errorf("a deleted account keeps credentials (%d bytes, %v)", len(sealed), err)
		}
	})
}

// TestPayPalPaymentMethods: a PayPal billing agreement is a payment method of type
// paypal with its payer's email and no card; its token is sealed like a card's and
// comes back with the type for the charge; detaching erases the email with the token.
// Cards keep type card.
func TestPayPalPaymentMethods(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		card := newCard(t, db, ten.aTest, cus.ID)
		if card.Type != billing.PaymentMethodCard || card.PayPal != nil {
			t.Fatalf("card %+v", card)
		}
		pm, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "axerve",
			Token: "B-00000000000000042", Type: billing.PaymentMethodPayPal, PayPal: billing.PayPalDetails{PayerEmail: "payer@example.com"},
			Card: billing.CardDetails{Brand: "visa", Last4: "4242"}, Imported: true})
		if err != nil || pm.Type != billing.PaymentMethodPayPal || pm.Card != nil || pm.PayPal == nil || pm.PayPal.PayerEmail != "payer@example.com" {
			t.Fatalf("PayPal method %+v, %v", pm, err)
		}
		if got, err := db.GetPaymentMethod(ctx, ten.aTest, pm.ID); err != nil || got.Type != billing.PaymentMethodPayPal || got.PayPal == nil {
			t.Fatalf("read back %+v, %v", got, err)
		}
		var stored []byte
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT token FROM payment_methods WHERE id = ?`), pm.ID).Scan(&stored); err != nil ||
			bytes.Contains(stored, []byte("B-00000000000000042")) {
			t.Fatalf("the agreement token is stored in the clear (or not at all): %v", err)
		}
		if c, err := db.ChargeableCard(ctx, ten.aTest.MerchantID, pm.ID); err != nil || c.Type != billing.PaymentMethodPayPal || c.Token != "B-00000000000000042" {
			t.Fatalf("chargeable %v, %v", c, err)
		}
		if c, _ := db.ChargeableCard(ctx, ten.aTest.MerchantID, card.ID); c.Type != billing.PaymentMethodCard {
			t.Fatalf("a card charges as %q", c.Type)
		}
		detached, err := db.DetachPaymentMethod(ctx, ten.aTest, pm.ID)
		if err != nil || detached.PayPal != nil || detached.Type != billing.PaymentMethodPayPal {
			t.Fatalf("detached %+v, %v", detached, err)
		}
		var email *string
		var token []byte
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT payer_email, token FROM payment_methods WHERE id = ?`), pm.ID).Scan(&email, &token); err != nil ||
			email != nil || token != nil {
			t.Fatalf("payer_email, token after detach = %v, %q, %v; want both NULL", email, token, err)
		}
		if _, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "axerve", Token: "x",
			Type: "sepa_debit"}); err == nil {
			t.Fatal("an unknown type was stored")
		}
	})
}

// TestPayPalAgreementAwaitingApproval: a PayPal method created awaiting approval has no
// token to charge until KeepPayPalAgreement seals the agreement in; the same agreement
// again is a no-op, another one, a card, a detached method, or an empty token is
// refused, and only PayPal methods may await approval.
func TestPayPalAgreementAwaitingApproval(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		cus := newCustomer(t, db, ten.aTest)
		m := ten.aTest.MerchantID
		pending, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "axerve",
			ProviderAccount: "pa_1", Type: billing.PaymentMethodPayPal, AwaitingApproval: true})
		if err != nil || pending.Status != billing.PaymentMethodActive {
			t.Fatalf("pending PayPal method %+v, %v", pending, err)
		}
		if c, err := db.ChargeableCard(ctx, m, pending.ID); err != nil || c.Token != "" || c.Type != billing.PaymentMethodPayPal {
			t.Fatalf("before approval: %v, %v; want no token", c, err)
		}
		if err := db.KeepPayPalAgreement(ctx, m, pending.ID, ""); err == nil {
			t.Error("an empty agreement was kept")
		}
		if err := db.KeepPayPalAgreement(ctx, ten.bTest.MerchantID, pending.ID, "B-1"); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("another merchant's method = %v, want not found", err)
		}
		if err := db.KeepPayPalAgreement(ctx, m, pending.ID, "B-7PY000000000001A"); err != nil {
			t.Fatal(err)
		}
		if err := db.KeepPayPalAgreement(ctx, m, pending.ID, "B-7PY000000000001A"); err != nil {
			t.Errorf("the same agreement again = %v, want a no-op", err)
		}
		if err := db.KeepPayPalAgreement(ctx, m, pending.ID, "B-OTHER"); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("a second agreement = %v, want a conflict", err)
		}
		if c, err := db.ChargeableCard(ctx, m, pending.ID); err != nil || c.Token != "B-7PY000000000001A" {
			t.Fatalf("after approval: %v, %v", c, err)
		}
		var stored []byte
		if err := db.QueryRowxContext(ctx, db.Rebind(`SELECT token FROM payment_methods WHERE id = ?`), pending.ID).Scan(&stored); err != nil ||
			bytes.Contains(stored, []byte("B-7PY000000000001A")) {
			t.Fatalf("the agreement is stored in the clear: %v", err)
		}
		card := newCard(t, db, ten.aTest, cus.ID)
		if err := db.KeepPayPalAgreement(ctx, m, card.ID, "B-2"); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("an agreement on a card = %v, want a conflict", err)
		}
		gone, err := db.CreatePaymentMethod(ctx, ten.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "axerve",
			Type: billing.PaymentMethodPayPal, AwaitingApproval: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.DetachPaymentMethod(ctx, ten.aTest, gone.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.KeepPayPalAgreement(ctx, m, gone.ID, "B-3"); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("an agreement on a detached method = %v, want a conflict", err)
		}
		for name, in := range map[string]billing.NewPaymentMethod{
			"a card":                 {CustomerID: cus.ID, Provider: "axerve", AwaitingApproval: true},
			"PayPal with a token":    {CustomerID: cus.ID, Provider: "axerve", Type: billing.PaymentMethodPayPal, Token: "B-4", AwaitingApproval: true},
			"PayPal without a token": {CustomerID: cus.ID, Provider: "axerve", Type: billing.PaymentMethodPayPal},
		} {
			if _, err := db.CreatePaymentMethod(ctx, ten.aTest, in); err == nil {
				t.Errorf("%s awaiting approval was stored", name)
			}
		}
	})
}
