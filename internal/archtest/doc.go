// Package archtest holds only a test: the import rules between the module's packages
// (see the README's Architecture section), checked with `go list`.
package archtest
