// Package workflows holds the engine's Temporal workflows. Everything here is
// deterministic: time comes from workflow.Now, waiting from timers, and activities are
// called through the typed wrappers in package activities.
package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes every plan workflow keeps current, so operators can find plans in
// the Web UI (for example PlanStatus="past_due").
var (
	PlanStatusKey   = temporal.NewSearchAttributeKeyKeyword("PlanStatus")
	CustomerIDKey   = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	MerchantIDKey   = temporal.NewSearchAttributeKeyKeyword("MerchantId")
	NextChargeAtKey = temporal.NewSearchAttributeKeyTime("NextChargeAt")
)

// SearchAttributes lists the custom search attributes the namespace must have, by name
// and type.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		PlanStatusKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		CustomerIDKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		MerchantIDKey.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		NextChargeAtKey.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	}
}
