package aps

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

var _ providers.TokenImporter = (*Provider)(nil)

// tokenNameChars is APS's token_name rule: at most 100 of letters, digits and . @ - _.
var tokenNameChars = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)

// ImportToken takes over a card tokenized at APS before: token_name and, where the
// account uses them, the agreement_id of its stored credential. APS has no call that
// reads a token back, so the card's display data is the merchant's, and the first
// charge on it tells whether the token is good (00044 token name does not exist).
func (p *Provider) ImportToken(_ context.Context, req providers.ImportTokenRequest) (providers.SavedCard, error) {
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		if k != "token_name" && k != "agreement_id" {
			return providers.SavedCard{}, importError(billing.CodeParameterUnknown, "token."+k,
				"Amazon Payment Services tokens have token_name and agreement_id")
		}
	}
	name, agreement := req.Fields["token_name"], req.Fields["agreement_id"]
	switch {
	case name == "":
		return providers.SavedCard{}, importError(billing.CodeParameterMissing, "token.token_name", "token_name is required")
	case !tokenNameChars.MatchString(name):
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.token_name",
			"token_name is at most 100 letters, digits and . @ - _")
	case agreement != "" && (len(agreement) > 100 || strings.ContainsAny(agreement, "#\x00")):
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.agreement_id", "agreement_id is at most 100 characters, without #")
	case req.Email == "":
		return providers.SavedCard{}, importError(billing.CodeParameterMissing, "customer",
			"Amazon Payment Services charges saved cards with the customer's email: the customer needs one")
	}
	for _, f := range []struct {
		param   string
		missing bool
	}{{"card.brand", req.Brand == ""}, {"card.last4", req.Last4 == ""}, {"card.exp_month", req.ExpMonth == 0}, {"card.exp_year", req.ExpYear == 0}} {
		if f.missing {
			return providers.SavedCard{}, importError(billing.CodeParameterMissing, f.param,
				"APS cannot read a token's card back: give its brand, last4, exp_month and exp_year")
		}
	}
	brand := strings.ToLower(req.Brand)
	if !slices.Contains([]string{providers.BrandVisa, providers.BrandMastercard, providers.BrandAmex, providers.BrandDiscover, providers.BrandDiners, "mada", "meeza"}, brand) {
		brand = providers.BrandUnknown
	}
	return providers.SavedCard{Token: Token(name, agreement), CustomerRef: req.Email, Brand: brand, Last4: req.Last4,
		ExpMonth: req.ExpMonth, ExpYear: req.ExpYear}, nil
}

func importError(code, param, msg string) *providers.Error {
	return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: code, Param: param,
		Message: msg}
}
