package simulator

import (
	"os"
	"strings"
	"testing"
)

// TestEveryTestCardIsDocumented keeps the card table in doc.go and the README in step
// with the cards the simulator actually knows.
func TestEveryTestCardIsDocumented(t *testing.T) {
	for _, file := range []string{"doc.go", "../README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for number := range testCards {
			if !strings.Contains(string(b), number) {
				t.Errorf("%s does not document test card %s", file, number)
			}
		}
	}
}
