package seal_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/recurring/recurring/internal/seal"
)

func mustParse(t *testing.T, spec string) *seal.Keyring {
	t.Helper()
	k, err := seal.Parse(spec)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustParse(t, seal.Generate("k1"))
	kid, ct, err := k.Seal([]byte("tok_secret"), []byte("pm_1"))
	if err != nil {
		t.Fatal(err)
	}
	if kid != "k1" || bytes.Contains(ct, []byte("tok_secret")) {
		t.Fatalf("kid %q, ciphertext %x", kid, ct)
	}
	got, err := k.Open(kid, ct, []byte("pm_1"))
	if err != nil || string(got) != "tok_secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Two seals of one plaintext differ (random nonce).
	_, ct2, _ := k.Seal([]byte("tok_secret"), []byte("pm_1"))
	if bytes.Equal(ct, ct2) {
		t.Error("sealing twice gave the same ciphertext")
	}
}

func TestOpenRejectsTamperingAndOtherRows(t *testing.T) {
	k := mustParse(t, seal.Generate("k1"))
	kid, ct, _ := k.Seal([]byte("tok_secret"), []byte("pm_1"))
	if _, err := k.Open(kid, ct, []byte("pm_2")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("open with another row's additional data: %v, want ErrOpen", err)
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := k.Open(kid, bad, []byte("pm_1")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("open tampered: %v, want ErrOpen", err)
	}
	if _, err := k.Open(kid, ct[:5], []byte("pm_1")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("open truncated: %v, want ErrOpen", err)
	}
	if _, err := k.Open("k9", ct, []byte("pm_1")); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("open under an unknown key: %v, want ErrUnknownKey", err)
	}
}

// Rotation: a new active key is put first; rows sealed under the old key still open,
// new rows are sealed under the new key, and dropping the old key makes old rows fail
// loudly rather than decrypt to garbage.
func TestRotation(t *testing.T) {
	oldSpec := seal.Generate("2024")
	old := mustParse(t, oldSpec)
	kid, ct, _ := old.Seal([]byte("tok_old"), []byte("pm_1"))

	rotated := mustParse(t, seal.Generate("2025")+","+oldSpec)
	if rotated.ActiveID() != "2025" {
		t.Fatalf("active key %q, want the first one", rotated.ActiveID())
	}
	got, err := rotated.Open(kid, ct, []byte("pm_1"))
	if err != nil || string(got) != "tok_old" {
		t.Fatalf("old row after rotation: %q, %v", got, err)
	}
	newKid, newCt, _ := rotated.Seal([]byte("tok_new"), []byte("pm_2"))
	if newKid != "2025" {
		t.Errorf("new row sealed under %q, want 2025", newKid)
	}
	if _, err := old.Open(newKid, newCt, []byte("pm_2")); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("old ring opening a new row: %v", err)
	}
	sum := func(k *seal.Keyring) (string, []byte) { return k.MAC([]byte("body")) }
	macKid, mac := sum(old)
	if !rotated.CheckMAC(macKid, []byte("body"), mac) {
		t.Error("a MAC made before rotation does not check after it")
	}
	if rotated.CheckMAC(macKid, []byte("other"), mac) {
		t.Error("a MAC checks for other data")
	}
}

func TestParseErrorsNeverShowKeys(t *testing.T) {
	secret := strings.Repeat("ab", 31) // 62 hex digits: too short
	cases := map[string]string{
		"":                         "not id:hex",
		"k1":                       "not id:hex",
		"k1:" + secret:             "64 hex digits",
		"k1:zz" + secret:           "64 hex digits",
		"bad id!:" + secret + "cd": "id must be",
		seal.Generate("a") + ",a:" + strings.Repeat("cd", 32): "appears twice",
	}
	for spec, want := range cases {
		_, err := seal.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%.12q…) = %v, want %q", spec, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows key material: %v", err)
		}
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	spec := seal.Generate("k1")
	k := mustParse(t, spec)
	hexKey := strings.TrimPrefix(spec, "k1:")
	raw, _ := hex.DecodeString(hexKey)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), k.LogValue().String()} {
		if strings.Contains(s, hexKey) || strings.Contains(s, string(raw)) {
			t.Fatalf("keyring printed its key: %s", s)
		}
	}
}
