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
		for number := range threeDSCards {
			spaced := number[0:4] + " " + number[4:8] + " " + number[8:12] + " " + number[12:16]
			if !strings.Contains(string(b), number) && !strings.Contains(string(b), spaced) {
				t.Errorf("%s does not document 3-D Secure test card %s", file, number)
			}
		}
	}
}
