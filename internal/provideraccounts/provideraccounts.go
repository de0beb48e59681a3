// Package provideraccounts knows what a merchant's own provider account needs: the
// credential fields of each provider (named as in its dashboard), where its base URL
// may point in test and live mode, and how to build the adapter that charges with it.
package provideraccounts

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/axerve"
	"github.com/recurring/recurring/providers/stripe"
)

// spec is one provider's account shape.
type spec struct {
	fields   []string
	liveHost string // the one host live payments may go to
	liveURL  string
}

var specs = map[string]spec{
	stripe.Name: {fields: []string{"secret_key"}, liveHost: "api.stripe.com", liveURL: "https://api.stripe.com"},
	aps.Name: {fields: []string{"access_code", "merchant_identifier", "request_phrase", "response_phrase", "sha_type"},
		liveHost: "paymentservices.payfort.com", liveURL: aps.ProductionURL},
	axerve.Name: {fields: []string{"shop_login", "api_key"}, liveHost: "ecomms2s.sella.it", liveURL: axerve.ProductionURL},
}

// sandboxes are where a test account without base_url goes: the provider's sandbox,
// never its production host.
var sandboxes = map[string]string{aps.Name: aps.SandboxURL, axerve.Name: axerve.SandboxURL}

// Providers lists the providers accounts can be made for.
func Providers() []string {
	out := make([]string, 0, len(specs))
	for p := range specs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Check validates an account to create and returns its base URL as stored (an Amazon
// Payment Services test account without one gets the sandbox). Errors are
// *billing.Error naming the field; none echoes a credential.
func Check(provider string, creds billing.Credentials, baseURL string, mode billing.Mode) (string, error) {
	sp, ok := specs[provider]
	switch {
	case provider == "simulator":
		return "", billing.Invalid("provider", billing.CodeInvalidValue, "the simulator needs no account: save cards with provider simulator")
	case !ok:
		return "", billing.Invalid("provider", billing.CodeInvalidValue, "provider must be one of %s", strings.Join(Providers(), ", "))
	}
	for _, f := range sp.fields {
		if strings.TrimSpace(creds[f]) == "" {
			return "", billing.Invalid("credentials."+f, billing.CodeParameterMissing, "%s accounts need credentials.%s", provider, f)
		}
		if strings.TrimSpace(creds[f]) != creds[f] {
			return "", billing.Invalid("credentials."+f, billing.CodeInvalidValue, "credentials.%s has spaces around it", f)
		}
	}
	for _, f := range creds.Fields() {
		if !slices.Contains(sp.fields, f) {
			return "", billing.Invalid("credentials."+f, billing.CodeParameterUnknown, "%s accounts take credentials %s", provider, strings.Join(sp.fields, ", "))
		}
	}
	base, err := checkBaseURL(provider, sp, baseURL, mode)
	if err != nil {
		return "", err
	}
	switch provider {
	case stripe.Name:
		key := creds["secret_key"]
		live := strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_")
		test := strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")
		if (mode == billing.ModeLive && !live) || (mode == billing.ModeTest && !test) {
			return "", billing.Invalid("credentials.secret_key", billing.CodeInvalidValue,
				"a %s-mode Stripe account takes a secret or restricted %s key (sk_%s_… or rk_%s_…)", mode, mode, mode, mode)
		}
	case aps.Name:
		if _, err := aps.Sign(nil, "", creds["sha_type"]); err != nil {
			return "", billing.Invalid("credentials.sha_type", billing.CodeInvalidValue, "sha_type must be SHA-256, SHA-512, HMAC-256 or HMAC-512")
		}
	}
	if _, err := Build(billing.ProviderAccountKeys{Mode: mode, Provider: provider, BaseURL: base, Credentials: creds}); err != nil {
		return "", billing.Invalid("credentials", billing.CodeInvalidValue, "%s refuses these credentials", provider)
	}
	return base, nil
}

// checkBaseURL: a scheme and host only (the provider's documented path is kept). Test
// mode may point anywhere (sandboxes, a test double on 127.0.0.1) but an Amazon
// Payment Services test account never at its production host; live mode only at the
// provider's production host, over https.
func checkBaseURL(provider string, sp spec, raw string, mode billing.Mode) (string, error) {
	if raw == "" {
		if sb := sandboxes[provider]; sb != "" && mode == billing.ModeTest {
			return sb, nil
		}
		return "", nil
	}
	base, host, err := canonical(raw)
	if err != nil {
		return "", billing.Invalid("base_url", billing.CodeInvalidValue, "base_url is a scheme and host, such as https://sandbox.example")
	}
	live := host == sp.liveHost
	switch {
	case mode == billing.ModeLive && (!live || !strings.HasPrefix(base, "https://") || base != "https://"+sp.liveHost):
		return "", billing.Invalid("base_url", billing.CodeInvalidValue, "in live mode %s accounts go to %s only", provider, sp.liveURL)
	case mode == billing.ModeTest && live && sandboxes[provider] != "":
		return "", billing.Invalid("base_url", billing.CodeInvalidValue, "a test account cannot use the production host; the sandbox is %s", sandboxes[provider])
	}
	return base, nil
}

// canonical reduces a base URL to scheme://host[:port] with a lower-case ASCII host,
// no trailing dot and no default port, so one host has one spelling; anything else
// (a path, a query or fragment, even empty, credentials, a non-ASCII host, a bad port)
// is refused.
func canonical(raw string) (base, host string, err error) {
	bad := fmt.Errorf("not a scheme and host")
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#") ||
		strings.Trim(u.Path, "/") != "" || strings.HasSuffix(u.Host, ":") {
		return "", "", bad
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", bad
	}
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", "", bad
	}
	if ip := net.ParseIP(host); ip == nil {
		for _, r := range host {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
				return "", "", bad
			}
		}
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "", bad
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	hostport := host
	if port != "" || strings.Contains(host, ":") {
		hostport = net.JoinHostPort(host, port)
		if port == "" {
			hostport = "[" + host + "]"
		}
	}
	return scheme + "://" + hostport, host, nil
}

// Build makes the adapter of an account. It makes no network call.
func Build(k billing.ProviderAccountKeys) (providers.Provider, error) {
	c := k.Credentials
	switch k.Provider {
	case stripe.Name:
		return stripe.New(stripe.Config{SecretKey: c["secret_key"], BaseURL: k.BaseURL})
	case aps.Name:
		return aps.New(aps.Config{AccessCode: c["access_code"], MerchantIdentifier: c["merchant_identifier"],
			RequestPhrase: c["request_phrase"], ResponsePhrase: c["response_phrase"], SHAType: c["sha_type"], BaseURL: k.BaseURL})
	case axerve.Name:
		return axerve.New(axerve.Config{ShopLogin: c["shop_login"], APIKey: c["api_key"], BaseURL: k.BaseURL})
	}
	return nil, fmt.Errorf("provider accounts: no adapter for %q", k.Provider)
}

// Keys reads an account's unsealed credentials (the store's ProviderAccountKeys).
type Keys interface {
	ProviderAccountKeys(ctx context.Context, merchantID, id string) (billing.ProviderAccountKeys, error)
}

// Resolver builds the adapter of a merchant's account for each call, so a deleted
// account stops charging at once and no credentials outlive the call.
type Resolver struct{ Keys Keys }

// ForAccount returns the adapter of the merchant's account id. An unknown or deleted
// account is a providers.Error (provider_not_available) that no retry fixes.
func (r Resolver) ForAccount(ctx context.Context, merchantID, id string) (providers.Provider, error) {
	k, err := r.Keys.ProviderAccountKeys(ctx, merchantID, id)
	if billing.KindOf(err) == billing.KindNotFound {
		return nil, &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeProviderNotAvailable,
			Message: "provider account " + id + " no longer exists", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return Build(k)
}

// Capabilities returns what an account of provider can do: the adapter's own declared
// rows (read from an adapter built with placeholder credentials, which makes no call).
func Capabilities(provider string) []providers.Capability {
	placeholder := billing.Credentials{"secret_key": "sk_test_placeholder", "access_code": "-", "merchant_identifier": "-",
		"request_phrase": "-", "response_phrase": "-", "sha_type": aps.SHA256, "shop_login": "GESPAY00000", "api_key": "-"}
	p, err := Build(billing.ProviderAccountKeys{Provider: provider, Credentials: placeholder})
	if err != nil {
		return nil
	}
	return p.Capabilities()
}
