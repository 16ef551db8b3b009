// Package warmcoprocess makes a Go tool a warm coprocess
// (protocol-spec/coprocess.md), in serial mode: Go cannot fork, so the
// coprocess itself runs each invocation, one at a time, and the daemon keeps
// as many coprocesses as callers need. Standard library only.
//
//	func main() {
//		slowSetup()
//		warmcoprocess.Serve(run, warmcoprocess.Options{Watch: []string{"/etc/mytool.conf"}}) // returns only when not started by warm
//		os.Exit(run(os.Args))
//	}
//
// run gets the caller's argv (argv[0] as typed) with the caller's fds 0-2
// on os.Stdin/Stdout/Stderr, its cwd, umask and environment, and returns the
// status. It must leave the process as it found it (goroutines, globals);
// os.Exit inside it ends the coprocess with that status, which is then the
// run's (the daemon starts another).
package warmcoprocess

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const maxFrame = 16 << 20

// Options: files whose change restarts the coprocess, env names its start-up read.
type Options struct {
	Watch []string
	Env   []string
}

// readExact reads n bytes (fewer at EOF), collecting any fds that come with them.
func readExact(fd, n int, fds *[]int) ([]byte, error) {
	buf := make([]byte, 0, n)
	oob := make([]byte, syscall.CmsgSpace(16*4))
	for len(buf) < n {
		chunk := make([]byte, n-len(buf))
		got, oobn, _, _, err := syscall.Recvmsg(fd, chunk, oob, syscall.MSG_CMSG_CLOEXEC)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		if oobn > 0 {
			msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				if rights, err := syscall.ParseUnixRights(&m); err == nil {
					*fds = append(*fds, rights...)
				}
			}
		}
		if got == 0 {
			break
		}
		buf = append(buf, chunk[:got]...)
	}
	return buf, nil
}

// RecvFrame reads one frame: its JSON object and fds; nil at EOF.
func RecvFrame(fd int) (map[string]json.RawMessage, []int, error) {
	var fds []int
	head, err := readExact(fd, 4, &fds)
	if err != nil || len(head) == 0 {
		return nil, fds, err
	}
	if len(head) < 4 {
		return nil, fds, errors.New("the link ended inside a frame")
	}
	n := binary.BigEndian.Uint32(head)
	if n < 1 || n > maxFrame {
		return nil, fds, errors.New("frame length out of range")
	}
	var stray []int
	body, err := readExact(fd, int(n), &stray)
	for _, s := range stray {
		syscall.Close(s)
	}
	if err != nil || len(body) < int(n) {
		return nil, fds, errors.New("the link ended inside a frame")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fds, errors.New("frame is not a JSON object")
	}
	return m, fds, nil
}

func sendFrame(fd int, m interface{}) error {
	body, _ := json.Marshal(m)
	data := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(data, uint32(len(body)))
	copy(data[4:], body)
	return writeAll(fd, data)
}

// ShimFrame is a frame to the shim ("Frames to the shim" in the spec):
// kind "started" (v: the pid), "code" or "signal" (an exit).
func ShimFrame(kind string, v uint32) []byte {
	var body []byte
	if kind == "started" {
		pid := binary.BigEndian.AppendUint32(nil, v)
		body = append(append(append([]byte("\x83\xa1t\xa7started\xa3pid\xce"), pid...), "\xa4pgid\xce"...), pid...)
	} else {
		key := "\xa4code"
		if kind == "signal" {
			key = "\xa6signal"
		}
		body = append([]byte("\x82\xa1t\xa4exit"+key+"\xcc"), byte(v))
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// writeAll writes data to fd (a write to a shim that has gone fails with EPIPE: Go ignores SIGPIPE there).
func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := syscall.Write(fd, data)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// Run is a run message's fields.
type Run struct {
	Argv, Env [][]byte
	Cwd       []byte
	Umask     int
}

func bytesOf(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func listOf(raw json.RawMessage) ([][]byte, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, errors.New("not an array")
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		b, err := bytesOf(it)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// ParseRun reads a run message as the spec says (the vectors check it).
func ParseRun(m map[string]json.RawMessage) (*Run, error) {
	var r Run
	var err error
	if r.Argv, err = listOf(m["argv"]); err != nil {
		return nil, err
	}
	if r.Env, err = listOf(m["env"]); err != nil {
		return nil, err
	}
	if r.Cwd, err = bytesOf(m["cwd"]); err != nil {
		return nil, err
	}
	if r.Umask, err = strconv.Atoi(strings.TrimSpace(string(m["umask"]))); err != nil {
		return nil, errors.New("umask is not an int")
	}
	return &r, nil
}

func typeOf(m map[string]json.RawMessage) string {
	var t string
	_ = json.Unmarshal(m["t"], &t)
	return t
}

// serveOne runs one invocation in this process and puts everything back;
// it tells the shim `started` and `exit` itself, on the client link.
func serveOne(r *Run, fds []int, run func([]string) int) {
	client, runLink := fds[3], fds[4]
	defer syscall.Close(runLink)
	started := false
	var saved [3]int
	for i := range saved {
		saved[i], _ = syscall.Dup(i)
		syscall.CloseOnExec(saved[i])
	}
	cwd, _ := os.Getwd()
	env := os.Environ()
	mask := syscall.Umask(r.Umask)
	code := -1
	func() {
		for i := 0; i < 3; i++ {
			syscall.Dup2(fds[i], i)
			syscall.Close(fds[i])
		}
		if err := syscall.Chdir(string(r.Cwd)); err != nil {
			return
		}
		os.Clearenv()
		for _, e := range r.Env {
			if k, v, ok := strings.Cut(string(e), "="); ok && k != "" {
				if _, set := os.LookupEnv(k); !set {
					os.Setenv(k, v)
				}
			}
		}
		if sendFrame(runLink, map[string]interface{}{"t": "taken", "pid": os.Getpid()}) != nil {
			return
		}
		if writeAll(client, ShimFrame("started", uint32(os.Getpid()))) != nil {
			return
		}
		started = true
		argv := make([]string, len(r.Argv))
		for i, a := range r.Argv {
			argv[i] = string(a)
		}
		code = run(argv) & 0xff
	}()
	for i := 0; i < 3; i++ {
		syscall.Dup2(saved[i], i)
		syscall.Close(saved[i])
	}
	os.Chdir(cwd)
	syscall.Umask(mask)
	os.Clearenv()
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			os.Setenv(k, v)
		}
	}
	if !started {
		// Taken and not started: the shim ran the command itself; the daemon starts another coprocess.
		os.Exit(0)
	}
	// The daemon first: a caller that goes before the daemon has `exit` went mid-run.
	sendFrame(runLink, map[string]interface{}{"t": "exit", "code": code})
	writeAll(client, ShimFrame("code", uint32(code)))
	syscall.Close(client)
}

// Serve serves invocations until the daemon closes the link, then exits;
// it returns at once when this process was not started by warm.
func Serve(run func(argv []string) int, opt Options) {
	fdText, ok := os.LookupEnv("WARM_COPROCESS_FD")
	if !ok {
		return
	}
	os.Unsetenv("WARM_COPROCESS_FD")
	link, err := strconv.Atoi(fdText)
	if err != nil {
		return
	}
	syscall.CloseOnExec(link)
	watch := []string{}
	for _, w := range opt.Watch {
		if abs, err := filepath.Abs(w); err == nil {
			watch = append(watch, abs)
		}
	}
	env := append([]string{}, opt.Env...)
	if err := sendFrame(link, map[string]interface{}{"t": "hello", "v": 2, "mode": "serial", "pid": os.Getpid(), "watch": watch, "env": env}); err != nil {
		os.Exit(0)
	}
	for {
		m, fds, err := RecvFrame(link)
		if err != nil || m == nil {
			os.Exit(0)
		}
		if r, perr := ParseRun(m); typeOf(m) == "run" && perr == nil && len(fds) == 5 {
			serveOne(r, fds, run)
			continue
		}
		for _, f := range fds {
			syscall.Close(f)
		}
	}
}

// Render renders bytes as the vectors do (for the vector checker).
func Render(b []byte) string {
	var sb strings.Builder
	sb.WriteString(` b"`)
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c >= 0x20 && c <= 0x7e:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
