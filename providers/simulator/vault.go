package simulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const tokenPrefix = "pm_sim_"

// vault seals card data into tokens. It holds keys only: a token is the ciphertext, so
// nothing in memory can be dumped into a PAN.
type vault struct {
	aead   cipher.AEAD
	macKey []byte
	aad    []byte
}

// storedCard is what a token carries. The CVC is not in it: card rules forbid keeping it
// after authorization, and merchant-initiated charges never send one.
type storedCard struct {
	Number      string `json:"n"`
	ExpMonth    int    `json:"m"`
	ExpYear     int    `json:"y"`
	CustomerRef string `json:"c"`
}

func newVault(key []byte, name string) (*vault, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("simulator vault key must be at least 16 bytes, got %d", len(key))
	}
	// Separate keys for encryption and fingerprints, so a fingerprint says nothing about
	// the encryption key.
	block, err := aes.NewCipher(derive(key, "recurring simulator vault encryption"))
	if err != nil {
		return nil, fmt.Errorf("simulator vault cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("simulator vault gcm: %w", err)
	}
	return &vault{aead: aead, macKey: derive(key, "recurring simulator card fingerprint"), aad: []byte(name)}, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (v *vault) seal(c storedCard) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("seal card: %w", err)
	}
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal card: nonce: %w", err)
	}
	sealed := v.aead.Seal(nonce, nonce, plain, v.aad)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

var errBadToken = errors.New("token is not a card saved by this simulator")

func (v *vault) open(token string) (storedCard, error) {
	raw, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return storedCard{}, errBadToken
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(sealed) < v.aead.NonceSize() {
		return storedCard{}, errBadToken
	}
	n := v.aead.NonceSize()
	plain, err := v.aead.Open(nil, sealed[:n], sealed[n:], v.aad)
	if err != nil {
		return storedCard{}, errBadToken
	}
	var c storedCard
	if err := json.Unmarshal(plain, &c); err != nil {
		return storedCard{}, errBadToken
	}
	return c, nil
}

// fingerprint identifies a card number without revealing it.
func (v *vault) fingerprint(number string) string {
	return v.mac("card:" + number)
}

func (v *vault) mac(s string) string {
	m := hmac.New(sha256.New, v.macKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))[:16]
}
