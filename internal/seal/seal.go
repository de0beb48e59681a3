// Package seal encrypts small secrets at rest (provider card tokens) with AES-256-GCM
// under a keyring of named keys, so keys can rotate: new data is sealed under the active
// key and its id is stored beside the ciphertext; data sealed under an older key stays
// readable for as long as that key is in the ring.
//
// The keyring also derives keyed MACs, for values that must be compared but whose plain
// hash could be brute-forced (an idempotency fingerprint over a body holding a card).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// Key is one named key of a keyring.
type Key struct {
	// ID is stored beside every ciphertext sealed under the key; 1 to 32 letters, digits,
	// '_' or '-'.
	ID     string
	Secret []byte
}

type entry struct {
	aead   cipher.AEAD
	mac    []byte
	secret []byte
}

// Keyring holds named keys; the first is the active one, used to seal and MAC. It is
// safe for concurrent use and never prints its keys.
type Keyring struct {
	active string
	ids    []string
	keys   map[string]entry
}

// ErrUnknownKey is returned when data was sealed under a key the ring no longer holds.
var ErrUnknownKey = errors.New("sealed under a key this keyring does not hold")

// ErrOpen is returned when a ciphertext fails authentication: tampered, truncated, or
// sealed for another row (additional data).
var ErrOpen = errors.New("ciphertext does not authenticate")

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// New builds a keyring; keys[0] is the active key. Ids must be unique.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("a keyring needs at least one key")
	}
	k := &Keyring{active: keys[0].ID, keys: make(map[string]entry, len(keys))}
	for i, key := range keys {
		if !keyID.MatchString(key.ID) {
			return nil, fmt.Errorf("key %d: id must be 1-32 letters, digits, '_' or '-'", i+1)
		}
		if _, dup := k.keys[key.ID]; dup {
			return nil, fmt.Errorf("key id %q appears twice", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("key %q must be %d bytes, got %d", key.ID, KeySize, len(key.Secret))
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key.ID, err)
		}
		// The MAC key is derived, so the encryption key itself is used for one purpose.
		mac, err := hkdf.Key(sha256.New, key.Secret, nil, "recurring/seal/mac", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key.ID, err)
		}
		k.keys[key.ID] = entry{aead: aead, mac: mac, secret: append([]byte(nil), key.Secret...)}
		k.ids = append(k.ids, key.ID)
	}
	return k, nil
}

// Parse reads a keyring spec: comma-separated id:hex pairs, each hex 64 digits (32
// bytes), the first being the active key. Errors never repeat key material.
func Parse(spec string) (*Keyring, error) {
	var keys []Key
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		id, hexKey, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("entry %d is not id:hex", i+1)
		}
		secret, err := hex.DecodeString(hexKey)
		if err != nil || len(secret) != KeySize {
			return nil, fmt.Errorf("key %q must be 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`", id)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return New(keys...)
}

// Generate returns a keyring spec with one fresh random key named id.
func Generate(id string) string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return id + ":" + hex.EncodeToString(b)
}

// Derive returns a keyring with the same ids whose keys are derived from these for
// one purpose (HKDF-SHA256 with purpose as its info), so one configured key ring can
// serve several uses without any two sharing a key.
func (k *Keyring) Derive(purpose string) (*Keyring, error) {
	keys := make([]Key, 0, len(k.ids))
	for _, id := range k.ids {
		secret, err := hkdf.Key(sha256.New, k.keys[id].secret, nil, purpose, KeySize)
		if err != nil {
			return nil, fmt.Errorf("derive key %q: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return New(keys...)
}

// ActiveID is the id of the key new data is sealed under.
func (k *Keyring) ActiveID() string { return k.active }

// IDs lists the key ids, the active one first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Seal encrypts plaintext under the active key, binding it to additionalData (for
// example the id of the row it is stored in, so a ciphertext copied to another row does
// not open). It returns the key id to store beside the ciphertext.
func (k *Keyring) Seal(plaintext, additionalData []byte) (kid string, ciphertext []byte, err error) {
	e := k.keys[k.active]
	nonce := make([]byte, e.aead.NonceSize(), e.aead.NonceSize()+len(plaintext)+e.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return k.active, e.aead.Seal(nonce, nonce, plaintext, additionalData), nil
}

// Open decrypts a ciphertext sealed under key kid with the same additional data.
func (k *Keyring) Open(kid string, ciphertext, additionalData []byte) ([]byte, error) {
	e, ok := k.keys[kid]
	if !ok {
		return nil, fmt.Errorf("open: key %q: %w", kid, ErrUnknownKey)
	}
	n := e.aead.NonceSize()
	if len(ciphertext) < n+e.aead.Overhead() {
		return nil, fmt.Errorf("open: %w", ErrOpen)
	}
	plain, err := e.aead.Open(nil, ciphertext[:n], ciphertext[n:], additionalData)
	if err != nil {
		return nil, fmt.Errorf("open: %w", ErrOpen)
	}
	return plain, nil
}

// MAC returns an HMAC-SHA256 of data under a key derived from the active key, and that
// key's id.
func (k *Keyring) MAC(data []byte) (kid string, sum []byte) {
	return k.active, k.mac(k.keys[k.active], data)
}

// CheckMAC reports whether sum is data's MAC under key kid, in constant time. A key the
// ring no longer holds never matches.
func (k *Keyring) CheckMAC(kid string, data, sum []byte) bool {
	e, ok := k.keys[kid]
	if !ok {
		return false
	}
	return hmac.Equal(k.mac(e, data), sum)
}

func (k *Keyring) mac(e entry, data []byte) []byte {
	h := hmac.New(sha256.New, e.mac)
	h.Write(data)
	return h.Sum(nil)
}

// String names the keys without revealing them.
func (k *Keyring) String() string {
	return "seal.Keyring{active=" + k.active + " keys=" + strings.Join(k.ids, ",") + "}"
}

// GoString keeps %#v as safe as %v.
func (k *Keyring) GoString() string { return k.String() }

// LogValue keeps slog from printing the keys.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }
