// Package payloadcodec encrypts every Temporal payload the engine writes (workflow
// and activity inputs and results, signals, updates, queries, failure messages and
// details) with AES-256-GCM under keys derived from ENCRYPTION_KEYS, so merchant data
// (references, descriptions, metadata, decline messages) is never in the clear in
// Temporal's database or its Web UI. Search attributes are not payloads: the plan,
// customer and merchant ids and the plan's state stay readable there. Each encrypted payload names its key
// id, so keys rotate like the store's: new payloads go under the active key, older ones
// stay readable while their key is in the ring. Payloads that are not encrypted (plans
// begun before the codec, recorded histories) decode as they are.
package payloadcodec

import (
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/recurring/recurring/internal/seal"
)

const (
	// Encoding is the metadata "encoding" of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key an encrypted payload is sealed under.
	MetadataKeyID = "encryption-key-id"
	// purpose derives the payload keys from ENCRYPTION_KEYS: never the keys that seal
	// card tokens themselves.
	purpose = "recurring/temporal-payloads/v1"
)

// aad binds ciphertexts to this use.
var aad = []byte("temporal-payload")

// Codec is a converter.PayloadCodec; safe for concurrent use.
type Codec struct{ ring *seal.Keyring }

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec over keys derived from ring (ENCRYPTION_KEYS).
func New(ring *seal.Keyring) (*Codec, error) {
	if ring == nil {
		return nil, errors.New("payload codec: no keys (set ENCRYPTION_KEYS)")
	}
	d, err := ring.Derive(purpose)
	if err != nil {
		return nil, fmt.Errorf("payload codec: %w", err)
	}
	return &Codec{ring: d}, nil
}

// DataConverter returns the SDK's default converter with c applied to every payload.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encodes failure messages and stack traces into payloads (the SDK
// leaves them in the clear otherwise), which the data converter then encrypts.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: c.DataConverter(), EncodeCommonAttributes: true})
}

// Encode encrypts each payload whole (metadata and data) under the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("payload codec: encode: %w", err)
		}
		kid, sealed, err := c.ring.Seal(plain, aad)
		if err != nil {
			return nil, fmt.Errorf("payload codec: encode: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(kid)},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and leaves others as they are. A payload under a
// key the ring does not hold, or one that does not authenticate, is an error naming
// the key id, never a panic.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		kid := string(p.GetMetadata()[MetadataKeyID])
		plain, err := c.ring.Open(kid, p.GetData(), aad)
		switch {
		case errors.Is(err, seal.ErrUnknownKey):
			return nil, fmt.Errorf("payload codec: payload encrypted under key id %q, which ENCRYPTION_KEYS does not hold", kid)
		case err != nil:
			return nil, fmt.Errorf("payload codec: payload under key id %q does not decrypt: %w", kid, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("payload codec: decode: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}
