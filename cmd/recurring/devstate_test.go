package main

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/store"
)

// `recurring merchant create` prints a test and a live key once; both authenticate as
// the new merchant in their mode.
func TestMerchantCreatePrintsWorkingKeys(t *testing.T) {
	url := "sqlite:" + t.TempDir() + "/m.db"
	env := map[string]string{"DATABASE_URL": url}
	if code, _, stderr := runForTest(t, []string{"migrate"}, env); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	code, stdout, stderr := runForTest(t, []string{"merchant", "create", "--name", "Acme"}, env)
	if code != 0 {
		t.Fatalf("merchant create: %s", stderr)
	}
	keys := regexp.MustCompile(`(?m)^(test|live) key: (sk_\w+)$`).FindAllStringSubmatch(stdout, -1)
	if len(keys) != 2 {
		t.Fatalf("output %q does not show two keys", stdout)
	}
	db, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, k := range keys {
		caller, err := db.Authenticate(t.Context(), k[2])
		if err != nil || string(caller.Mode) != k[1] {
			t.Errorf("%s key: %+v, %v", k[1], caller, err)
		}
	}
}

// dev keeps its encryption keys across restarts, also when its store is replaced, so
// cards saved earlier stay readable.
func TestDevStateKeepsEncryptionKeys(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *store.DB {
		db, err := store.Open(t.Context(), "sqlite:"+dir+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db := open("a.db")
	first, err := ensureDevState(t.Context(), db, dir, "", "", quietLogger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Parse(first.EncryptionKeys); err != nil {
		t.Fatalf("dev.json encryption keys %v", err)
	}
	again, err := ensureDevState(t.Context(), db, dir, "", "", quietLogger)
	if err != nil || again.EncryptionKeys != first.EncryptionKeys || again.TestKey != first.TestKey {
		t.Fatalf("restart changed the state: %v", err)
	}
	fresh, err := ensureDevState(t.Context(), open("b.db"), dir, "", "", quietLogger)
	if err != nil || fresh.EncryptionKeys != first.EncryptionKeys || fresh.MerchantID == first.MerchantID {
		t.Fatalf("a new store: merchant %s (was %s), keys kept %v, %v", fresh.MerchantID, first.MerchantID,
			fresh.EncryptionKeys == first.EncryptionKeys, err)
	}
}

var quietLogger = slog.New(slog.DiscardHandler)

// SIMULATOR_VAULT_KEY given to dev replaces the vault key in dev.json and is remembered,
// so cards saved under it stay chargeable after a restart without the variable.
func TestDevStateVaultKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(t.Context(), "sqlite:"+dir+"/a.db")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	first, err := ensureDevState(t.Context(), db, dir, "", "", quietLogger)
	if err != nil {
		t.Fatal(err)
	}
	given := strings.Repeat("AB", 32) // upper case: the same key as dev.json's lower case
	withEnv, err := ensureDevState(t.Context(), db, dir, "", given, quietLogger)
	if err != nil {
		t.Fatal(err)
	}
	if withEnv.VaultKey != strings.ToLower(given) || withEnv.VaultKey == first.VaultKey {
		t.Fatalf("vault key %q with SIMULATOR_VAULT_KEY=%s (was %q)", withEnv.VaultKey, given, first.VaultKey)
	}
	later, err := ensureDevState(t.Context(), db, dir, "", "", quietLogger)
	if err != nil || later.VaultKey != withEnv.VaultKey {
		t.Fatalf("restart without the variable: vault key %q, %v; want %q", later.VaultKey, err, withEnv.VaultKey)
	}
}
