//go:build !unix

package devserver

import "os"

// tryLock always succeeds where flock(2) does not exist: the data dir is not guarded
// there, and running one `recurring dev` per data dir is up to the developer.
func tryLock(*os.File) (bool, error) { return true, nil }
