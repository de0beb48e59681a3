package axerve

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

var _ providers.TokenImporter = (*Provider)(nil)

var tokenChars = regexp.MustCompile(`^[A-Za-z0-9_.-]{4,100}$`)

// ImportToken takes over a card token or a PayPal billing agreement token the shop
// keeps at Axerve. A card token must be one of the shop's (shop/token lists them); its
// display data is the merchant's, checked against the token's last four digits. A
// PayPal token cannot be read back: the first charge on it tells whether it is good.
func (p *Provider) ImportToken(ctx context.Context, req providers.ImportTokenRequest) (providers.SavedCard, error) {
	field := "card_token"
	if req.Method == providers.MethodPayPal {
		field = "paypal_token"
	}
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		if k != field {
			return providers.SavedCard{}, importError(billing.CodeParameterUnknown, "token."+k, "an Axerve "+method(req)+" import takes token."+field)
		}
	}
	tok := req.Fields[field]
	switch {
	case tok == "":
		return providers.SavedCard{}, importError(billing.CodeParameterMissing, "token."+field, field+" is required")
	case !tokenChars.MatchString(tok):
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token."+field, field+" is 4 to 100 letters, digits and . _ -")
	}
	if req.Method == providers.MethodPayPal {
		return providers.SavedCard{Token: tok, CustomerRef: req.Email}, nil
	}
	for _, f := range []struct {
		param   string
		missing bool
	}{{"card.brand", req.Brand == ""}, {"card.last4", req.Last4 == ""}, {"card.exp_month", req.ExpMonth == 0}, {"card.exp_year", req.ExpYear == 0}} {
		if f.missing {
			return providers.SavedCard{}, importError(billing.CodeParameterMissing, f.param,
				"Axerve cannot read a token's card back: give its brand, last4, exp_month and exp_year")
		}
	}
	if tail := tok[len(tok)-4:]; strings.Trim(tail, "0123456789") == "" && tail != req.Last4 {
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "card.last4", "the token ends in other digits than card.last4")
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var list struct {
		Tokens []string `json:"tokens"`
	}
	if err := p.call(ctx, http.MethodGet, "/shop/token/"+url.PathEscape(p.cfg.ShopLogin), nil, nil, &list, ""); err != nil {
		return providers.SavedCard{}, err
	}
	if !slices.Contains(list.Tokens, tok) {
		return providers.SavedCard{}, importError(billing.CodePaymentMethodNotFound, "token.card_token", "the shop has no such card token at Axerve")
	}
	brand := strings.ToLower(req.Brand)
	if !slices.Contains([]string{providers.BrandVisa, providers.BrandMastercard, providers.BrandAmex, providers.BrandDiscover, providers.BrandDiners, "maestro"}, brand) {
		brand = providers.BrandUnknown
	}
	return providers.SavedCard{Token: tok, CustomerRef: req.Email, Brand: brand, Last4: req.Last4, ExpMonth: req.ExpMonth, ExpYear: req.ExpYear}, nil
}

func method(req providers.ImportTokenRequest) string {
	if req.Method == providers.MethodPayPal {
		return "PayPal"
	}
	return "card"
}

func importError(code, param, msg string) *providers.Error {
	return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: code, Param: param, Message: msg}
}
