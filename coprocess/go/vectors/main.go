// Checks the Go library's frame reader and run parser against
// protocol-spec/coprocess-vectors.txt through a real socketpair, and its
// writer of frames to the shim. Prints
// "ok <name>" per vector; exits 1 on any failure.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"warm/coprocess"
)

func decode(frame []byte) ([]string, bool) {
	sv, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, false
	}
	go func() {
		syscall.Write(sv[1], frame)
		syscall.Close(sv[1])
	}()
	defer syscall.Close(sv[0])
	m, _, err := warmcoprocess.RecvFrame(sv[0])
	if err != nil || m == nil {
		return nil, false
	}
	r, err := warmcoprocess.ParseRun(m)
	if err != nil {
		return nil, false
	}
	render := func(name string, items [][]byte) string {
		var sb strings.Builder
		sb.WriteString(name)
		for _, it := range items {
			sb.WriteString(warmcoprocess.Render(it))
		}
		return sb.String()
	}
	return []string{render("argv", r.Argv), render("env", r.Env), "cwd" + warmcoprocess.Render(r.Cwd), fmt.Sprintf("umask %d", r.Umask)}, true
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	failed := false
	var kind, name, hexText string
	var want []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "run", "reject", "shim":
			kind, name, hexText, want = word, rest, "", nil
		case "frame":
			hexText += rest
		case "end":
			frame, _ := hex.DecodeString(hexText)
			var pass bool
			if kind == "shim" {
				says := strings.Fields(strings.Join(want, " "))
				which, value := says[0], says[len(says)-1]
				if which == "exit" {
					which = says[1]
				}
				v, _ := strconv.Atoi(value)
				pass = bytes.Equal(warmcoprocess.ShimFrame(which, uint32(v)), frame)
			} else {
				got, ok := decode(frame)
				pass = (kind == "reject" && !ok) || (kind == "run" && ok && strings.Join(got, "\n") == strings.Join(want, "\n"))
			}
			if pass {
				fmt.Println("ok " + name)
			} else {
				fmt.Println("FAIL " + name)
				failed = true
			}
		default:
			want = append(want, line)
		}
	}
	if failed {
		os.Exit(1)
	}
}
