package billing

// Page sizes of every list.
const (
	DefaultListLimit = 10
	MaxListLimit     = 100
)

// ListParams pages through a list, newest first.
type ListParams struct {
	// Limit is 1..MaxListLimit; 0 means DefaultListLimit.
	Limit int
	// StartingAfter is the id of the last object of the previous page.
	StartingAfter string
}

// PageLimit returns the page size the params ask for, or an invalid_value error naming
// limit.
func (p ListParams) PageLimit() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultListLimit, nil
	case p.Limit < 1 || p.Limit > MaxListLimit:
		return 0, Invalid("limit", CodeInvalidValue, "limit must be between 1 and %d", MaxListLimit)
	}
	return p.Limit, nil
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// HasMore reports whether objects remain after the last item.
	HasMore bool
}
