package api

import (
	"encoding/json"
	"fmt"
)

// fromREST turns an object rendered by package rest (the one rendering the API's
// answers and the events' data.object share) into the generated type of the same
// JSON. A field one side has and the other lacks would be dropped here;
// TestRESTTypesMatchTheSpec keeps the two field for field equal.
func fromREST[T any](object any) T {
	var out T
	b, err := json.Marshal(object)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		// Both sides are plain structs of the same JSON shape.
		panic(fmt.Sprintf("render %T as %T: %v", object, out, err))
	}
	return out
}
