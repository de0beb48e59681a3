package devserver_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recurring/recurring/internal/devserver"
)

// The lock is one holder at a time, names the holder's pid, and is free again when the
// holder unlocks.
func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	lock, err := devserver.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir %v, %v; want mode 0700", fi.Mode(), err)
	}
	_, err = devserver.LockDataDir(dir)
	if !errors.Is(err, devserver.ErrDataDirInUse) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), dir) {
		t.Fatalf("second lock: %v; want ErrDataDirInUse naming %s and pid %d", err, dir, os.Getpid())
	}
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := devserver.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	_ = again.Unlock()
}

// A holder killed with SIGKILL, which runs no clean-up, does not block the next start.
func TestLockDataDirAfterHolderKilled(t *testing.T) {
	if dir := os.Getenv("DEVSERVER_LOCK_HOLDER"); dir != "" {
		// The helper process: lock, say so, and wait to be killed.
		if _, err := devserver.LockDataDir(dir); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	dir := t.TempDir()
	holder := exec.Command(os.Args[0], "-test.run=^TestLockDataDirAfterHolderKilled$")
	holder.Env = append(os.Environ(), "DEVSERVER_LOCK_HOLDER="+dir)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if _, err := devserver.LockDataDir(dir); !errors.Is(err, devserver.ErrDataDirInUse) ||
		!strings.Contains(err.Error(), "pid "+strconv.Itoa(holder.Process.Pid)) {
		t.Fatalf("while the helper holds it: %v; want ErrDataDirInUse naming pid %d", err, holder.Process.Pid)
	}
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	lock, err := devserver.LockDataDir(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	_ = lock.Unlock()
}

// MakePrivate creates files 0600 and tightens existing ones and their SQLite side files.
func TestMakePrivate(t *testing.T) {
	dir := t.TempDir()
	fresh, old := filepath.Join(dir, "fresh.db"), filepath.Join(dir, "old.db")
	for _, p := range []string{old, old + "-wal"} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	for _, p := range []string{fresh, old} {
		if err := devserver.MakePrivate(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{fresh, old, old + "-wal"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", filepath.Base(p), fi.Mode(), err)
		}
	}
	if raw, _ := os.ReadFile(old); string(raw) != "x" {
		t.Errorf("MakePrivate changed an existing file's content to %q", raw)
	}
}
