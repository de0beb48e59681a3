package devserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the file in a data dir whose lock marks the dir as in use.
const LockFile = "dev.lock"

// ErrDataDirInUse reports a data dir another process holds.
var ErrDataDirInUse = errors.New("in use by another process")

// DataDirLock is an exclusive claim on a data dir. Two Temporal servers on one SQLite
// file corrupt each other's state, so a data dir serves one process at a time.
type DataDirLock struct {
	f *os.File
}

// LockDataDir creates dir (mode 0700) if needed and locks dir/dev.lock, writing this
// process's pid into it. When another process holds the lock it fails at once with
// ErrDataDirInUse, naming the holder's pid when the file shows it. The lock belongs to
// the open file, so the OS releases it when its holder exits, however it exits: a
// crashed holder leaves nothing to clean up.
func LockDataDir(dir string) (*DataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	locked, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !locked {
		_ = f.Close()
		holder := "pid unknown"
		if pid := holderPID(path); pid > 0 {
			holder = "pid " + strconv.Itoa(pid)
		}
		return nil, fmt.Errorf("data dir %s is %w (%s holds %s)", dir, ErrDataDirInUse, holder, path)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &DataDirLock{f: f}, nil
}

// Unlock releases the data dir. The file stays: removing it would let a process that
// opened it just before lock a file no one else can see.
func (l *DataDirLock) Unlock() error {
	_ = l.f.Truncate(0) // no stale pid for the next reader
	return l.f.Close()
}

// holderPID reads the pid a lock holder wrote, or 0 when it has not written one yet.
func holderPID(path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0
	}
	return pid
}

// MakePrivate creates path with mode 0600 when it does not exist and sets mode 0600
// when it does, with SQLite's side files (-wal, -shm, -journal) already present: a
// data dir holds workflow state, card tokens and keys, for the developer's eyes only.
// SQLite creates new side files with the main file's mode, so they follow.
func MakePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_ = f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Chmod(path+side, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("chmod %s: %w", path+side, err)
		}
	}
	return nil
}
