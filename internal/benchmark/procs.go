package benchmark

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spgate/spgate/vault"
)

// serveEnv is this process's environment with spgate's own variables
// replaced by the benchmark's vault and key.
func serveEnv(vaultPath, key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, vault.EnvVault+"="+vaultPath, vault.EnvMasterKey+"="+key)
}

var servingRE = regexp.MustCompile(`serving app \S+ on http://(127\.0\.0\.1:\d+)`)

// servedProc is a running server process.
type servedProc struct {
	addr string
	pid  int
}

// startServe runs `spgate serve` on a free loopback port with its log in
// a file under dir, and returns a function that stops it with SIGTERM.
func startServe(ctx context.Context, bin string, env []string, dir, name string, args ...string) (servedProc, func(), error) {
	logPath := filepath.Join(dir, "serve-"+name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return servedProc{}, nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--audit-log", filepath.Join(dir, "audit-"+name+".jsonl")}, args...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, io.Discard, logf
	p, err := startProcess(cmd, syscall.SIGTERM)
	if err != nil {
		return servedProc{}, nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	what := "spgate serve " + strings.Join(args, " ")
	addr, err := p.waitReady(ctx, func() (string, bool) {
		b, _ := os.ReadFile(logPath)
		if m := servingRE.FindSubmatch(b); m != nil {
			return string(m[1]), true
		}
		return "", false
	}, func(exit error) error {
		b, _ := os.ReadFile(logPath)
		if exit != nil {
			return fmt.Errorf("%s exited before listening (%v): %s", what, exit, lastLines(b, 5))
		}
		return fmt.Errorf("%s did not listen within %v: %s", what, startTimeout, lastLines(b, 5))
	})
	if err != nil {
		return servedProc{}, nil, err
	}
	return servedProc{addr: addr, pid: cmd.Process.Pid}, p.stop, nil
}

// process is a started server process.
type process struct {
	cmd    *exec.Cmd
	sig    os.Signal // asks it to stop gracefully
	exited chan error
}

// startProcess starts cmd; stop sends it sig.
func startProcess(cmd *exec.Cmd, sig os.Signal) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, sig: sig, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// stop sends the process its signal and kills it if it has not exited
// within 10 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(p.sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls ready every 10 ms until it returns the process's
// address. When the process exits first, or startTimeout passes (exit
// nil), it returns failed's error; on any failure the process is stopped.
func (p *process) waitReady(ctx context.Context, ready func() (string, bool), failed func(exit error) error) (string, error) {
	deadline := time.Now().Add(startTimeout)
	for {
		if addr, ok := ready(); ok {
			return addr, nil
		}
		select {
		case err := <-p.exited:
			if err == nil {
				err = errors.New("exit status 0")
			}
			return "", failed(err)
		case <-ctx.Done():
			p.stop()
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return "", failed(nil)
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// findNginx resolves --nginx: "auto" looks for nginx on PATH, then in
// /usr/sbin (Debian's place, often off a user's PATH); "off" leaves the row
// out. It returns the binary, or "" and why there is none.
func findNginx(flag string) (string, string) {
	switch flag {
	case "off":
		return "", "left out (--nginx off)"
	case "", "auto":
		if p, err := exec.LookPath("nginx"); err == nil {
			return p, ""
		}
		if st, err := os.Stat("/usr/sbin/nginx"); err == nil && !st.IsDir() {
			return "/usr/sbin/nginx", ""
		}
		return "", "nginx is not installed (not on PATH nor in /usr/sbin): install it (Debian: apt-get install nginx-light) for the comparison row"
	default:
		return flag, ""
	}
}

// nginxConf is a reverse proxy as one would put in front of SP-API: the
// same keep-alive pool and token header for every call, logging each
// request as spgate serve does.
const nginxConf = `daemon off;
worker_processes auto;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
	access_log access.log;
	client_body_temp_path tmp;
	proxy_temp_path tmp;
	upstream emulator {
		server %s;
		keepalive 64;
	}
	server {
		listen %s;
		location / {
			proxy_pass http://emulator;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header x-amz-access-token "%s";
		}
	}
}
`

// startNginx runs nginx in the foreground with a configuration in dir
// proxying to upstream, and returns its address, its master's pid and a
// function that stops it.
func startNginx(ctx context.Context, bin, dir, upstream, token string) (string, int, func(), error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return "", 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, upstream, addr, token), 0o600); err != nil {
		return "", 0, nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := startProcess(cmd, syscall.SIGQUIT) // graceful: workers finish, then exit
	if err != nil {
		return "", 0, nil, err
	}
	_, err = p.waitReady(ctx, func() (string, bool) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return "", false
		}
		c.Close()
		return addr, true
	}, func(exit error) error {
		if exit == nil {
			return fmt.Errorf("did not listen on %s within %v", addr, startTimeout)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return fmt.Errorf("exited (%v): %s %s", exit, strings.TrimSpace(out.String()), lastLines(log, 3))
	})
	if err != nil {
		return "", 0, nil, err
	}
	return addr, cmd.Process.Pid, p.stop, nil
}

// processMemory reads VmRSS and VmHWM of pid and, with children, of its
// child processes (nginx's workers) added up.
func processMemory(pid int, children bool) (rss, peak uint64) {
	pids := []int{pid}
	if children {
		pids = append(pids, childPIDs(pid)...)
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || (name != "VmRSS" && name != "VmHWM") {
				continue
			}
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			if err != nil {
				continue
			}
			if name == "VmRSS" {
				rss += kb << 10
			} else {
				peak += kb << 10
			}
		}
	}
	return rss, peak
}

// processCPU is the user and system CPU time pid has used so far, with
// children its child processes' too (nginx's workers); 0 for pid 0.
func processCPU(pid int, children bool) time.Duration {
	if pid == 0 {
		return 0
	}
	pids := []int{pid}
	if children {
		pids = append(pids, childPIDs(pid)...)
	}
	var ticks int64
	for _, p := range pids {
		// After the command: state ppid … utime (12th) stime (13th).
		f := procStat(strconv.Itoa(p))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// userHZ is the unit of /proc/<pid>/stat's times (USER_HZ), 100 on Linux.
const userHZ = 100

// procStat returns the fields of /proc/<pid>/stat after the command
// (state, ppid, …), or nil when the process is gone. The command, in
// parentheses, may itself hold spaces and parentheses.
func procStat(pid string) []string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(e.Name()); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
