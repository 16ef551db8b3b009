// An example coprocess CLI in Go (serial mode): prints its argv (bytes as
// hex when not printable), cwd, umask, EX_* variables and stdin with
// --stdin; EX_EXIT / EX_SIGNAL pick how it ends; with EX_GATE=file it first
// prints its pid and waits for that file. The warm patch is the import and
// the Serve line.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"warm/coprocess"
)

func run(argv []string) int {
	if gate := os.Getenv("EX_GATE"); gate != "" {
		fmt.Printf("pid %d\n", os.Getpid())
		for _, err := os.Stat(gate); err != nil; _, err = os.Stat(gate) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Printf("argc %d\n", len(argv))
	for _, a := range argv[1:] {
		var sb strings.Builder
		for _, c := range []byte(a) {
			if c > 0x20 && c < 0x7f && c != '\\' {
				sb.WriteByte(c)
			} else {
				fmt.Fprintf(&sb, `\x%02x`, c)
			}
		}
		fmt.Printf("arg %s\n", sb.String())
	}
	cwd, _ := os.Getwd()
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	fmt.Printf("cwd %s\numask %03o\n", cwd, mask)
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "EX_") {
			env = append(env, e)
		}
	}
	sort.Strings(env)
	for _, e := range env {
		fmt.Printf("env %s\n", e)
	}
	fmt.Fprintln(os.Stderr, "to stderr")
	if len(argv) > 1 && argv[1] == "--stdin" {
		io.Copy(os.Stdout, os.Stdin)
	}
	if s, err := strconv.Atoi(os.Getenv("EX_SIGNAL")); err == nil {
		raise(syscall.Signal(s))
	}
	code, _ := strconv.Atoi(os.Getenv("EX_EXIT"))
	return code
}

// raise sends sig to this thread, as C's raise does: the kernel delivers it
// before Tgkill returns, so a deadly one ends the process here. Sent to the
// process (kill), it may go to another thread, idle in the scheduler; a
// goroutine left waiting meanwhile with nothing else to run makes the Go
// runtime declare "all goroutines are asleep - deadlock!" (exit 2) before
// that thread handles it (seen under load).
func raise(sig syscall.Signal) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), sig)
}

func main() {
	warmcoprocess.Serve(run, warmcoprocess.Options{Env: []string{"EX_DECLARED"}})
	os.Exit(run(os.Args))
}
