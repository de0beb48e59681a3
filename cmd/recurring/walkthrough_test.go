//go:build unix

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recurring/recurring/internal/devserver"
)

// walkthroughStep is one shell command of the README's walkthrough with what its
// comments say it prints.
type walkthroughStep struct {
	command    string
	expected   string // the comment text after the command (inline and following lines)
	background bool   // ends with &: what it prints arrives during later steps
}

// readmeWalkthrough returns the API key `recurring dev` is started with and the steps
// of every ```sh block after the first, in order, from README.md's walkthrough.
func readmeWalkthrough(t *testing.T) (string, []walkthroughStep) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "## Five-minute walkthrough")
	end := strings.Index(text, "## Configuration")
	if start < 0 || end < start {
		t.Fatal("README.md has no walkthrough section before Configuration")
	}
	text = text[start:end]
	var blocks []string
	for rest := text; ; {
		i := strings.Index(rest, "```sh\n")
		if i < 0 {
			break
		}
		rest = rest[i+len("```sh\n"):]
		j := strings.Index(rest, "```")
		if j < 0 {
			t.Fatal("an unclosed ```sh block in the walkthrough")
		}
		blocks = append(blocks, rest[:j])
		rest = rest[j+3:]
	}
	if len(blocks) < 2 {
		t.Fatalf("the walkthrough has %d sh blocks", len(blocks))
	}
	key := regexp.MustCompile(`--api-key (sk_test_[A-Za-z0-9]+)`).FindStringSubmatch(blocks[0])
	if key == nil || !strings.Contains(blocks[0], "go run ./cmd/recurring dev") {
		t.Fatalf("the walkthrough's first block does not start dev with --api-key: %q", blocks[0])
	}
	var steps []walkthroughStep
	for _, block := range blocks[1:] {
		var cur *walkthroughStep
		open := false // inside a command spanning lines (a trailing \ or an open quote)
		for _, line := range strings.Split(block, "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case open:
				cur.command += "\n" + line
			case trimmed == "":
				cur = nil
				continue
			case strings.HasPrefix(trimmed, "#"):
				if cur != nil {
					cur.expected += strings.TrimPrefix(trimmed, "#") + "\n"
				}
				continue
			default:
				steps = append(steps, walkthroughStep{command: line})
				cur = &steps[len(steps)-1]
			}
			// An inline comment: two spaces, then #.
			if i := strings.Index(cur.command, "  # "); i >= 0 && strings.Count(cur.command[:i], "'")%2 == 0 {
				cur.expected += cur.command[i+4:] + "\n"
				cur.command = strings.TrimRight(cur.command[:i], " ")
			}
			open = strings.HasSuffix(strings.TrimSpace(cur.command), "\\") || strings.Count(cur.command, "'")%2 == 1
			cur.background = strings.HasSuffix(strings.TrimSpace(cur.command), "&")
		}
	}
	return key[1], steps
}

// expectedPairs are the "field":value pairs a comment shows, except the ones that differ
// per run (ids, secrets, fingerprints, times) or are elided.
func expectedPairs(comment string) []string {
	re := regexp.MustCompile(`"([a-z_]+)":("[^"]*"|true|false|null|-?[0-9]+)`)
	skip := map[string]bool{"id": true, "fingerprint": true, "created_at": true, "detached_at": true,
		"request_id": true, "customer": true, "payment_method": true, "plan": true, "secret": true}
	var out []string
	for _, m := range re.FindAllStringSubmatch(comment, -1) {
		if skip[m[1]] || strings.Contains(m[2], "…") {
			continue
		}
		out = append(out, m[0])
	}
	return out
}

// TestReadmeWalkthrough runs the README's walkthrough as written, its shell blocks in
// order in one bash, against the real binary (`recurring dev` on free ports and a fresh
// data dir, the webhook receiver on a free port), and checks every "field":value each
// command's comment shows in what the command printed.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the walkthrough needs curl")
	}
	key, steps := readmeWalkthrough(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t)
	d := startDev(t, t.TempDir(), ports, key)
	hookPort, err := devserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	api := "127.0.0.1:" + strconv.Itoa(ports.http)
	local := strings.NewReplacer("localhost:8080", api, "127.0.0.1:9000", "127.0.0.1:"+strconv.Itoa(hookPort),
		"--port 9000", "--port "+strconv.Itoa(hookPort), "go run ./cmd/recurring", bin)

	var script strings.Builder
	script.WriteString("set -u\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '@@step %d'\n%s\necho\n", i, local.Replace(s.command))
	}
	script.WriteString("echo '@@done'\n")

	out := &syncBuffer{}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the receiver runs on in the background
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "@@done") {
		if time.Now().After(deadline) {
			t.Fatalf("the walkthrough did not finish within 3 minutes; it printed:\n%s\ndev:\n%s", out, d.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// What each step printed: from its marker to the next. A background step's output
	// arrives during later steps, so it is looked for in everything.
	printed := map[int]string{}
	step := -1
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "@@step "); ok {
			step, _ = strconv.Atoi(n)
			continue
		}
		if step >= 0 {
			printed[step] += sc.Text() + "\n"
		}
	}
	checked := 0
	for i, s := range steps {
		got := printed[i]
		if s.background {
			got = out.String()
		}
		for _, pair := range expectedPairs(s.expected) {
			checked++
			if !strings.Contains(got, pair) {
				t.Errorf("step %d:\n%s\nprinted\n%s\nwithout %s (its comment says:\n%s)", i, s.command, got, pair, s.expected)
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d \"field\":value pairs checked; the parser no longer finds the walkthrough's comments", checked)
	}
	// The receiver verified the plan's whole story, signed.
	for _, want := range []string{"plan.created", "payment.succeeded", "plan.completed"} {
		if !regexp.MustCompile(`verified evt_[a-z0-9]+ ` + regexp.QuoteMeta(want) + ` `).MatchString(out.String()) {
			t.Errorf("the webhook receiver printed no verified %s event:\n%s", want, out)
		}
	}
	// The card plan's payments name it: its 3, each once. The hosted payment's and the
	// hosted plan's last events may still be on their way when the script ends.
	perPlan := map[string]int{}
	planOf := regexp.MustCompile(`"plan":"(plan_[a-z0-9]+)"`)
	for _, line := range strings.Split(out.String(), "\n") {
		if m := planOf.FindStringSubmatch(line); m != nil && strings.Contains(line, " payment.succeeded pay_") {
			perPlan[m[1]]++
		}
	}
	threes := 0
	for plan, n := range perPlan {
		if n > 3 {
			t.Errorf("the receiver verified %d payment.succeeded events of %s, more than its installments", n, plan)
		}
		if n == 3 {
			threes++
		}
	}
	if threes != 1 {
		t.Errorf("payment.succeeded events verified per plan: %v, want the card plan's 3", perPlan)
	}
	t.Logf("%d steps, %d pairs checked", len(steps), checked)
}
