// Package fakeserve holds what the vendors' fake servers (the .../fake
// packages and their commands) share: serving on a loopback address until
// interrupted, routing by path templates, and failures injected into the
// next requests. What a vendor answers stays in its own fake.
package fakeserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Listen listens on addr, which must be a loopback address: a fake has no
// authentication worth the name and holds test data.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen on a loopback address (127.0.0.1, ::1 or localhost), not %s", host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// URL is the base URL of a listener.
func URL(ln net.Listener) string { return "http://" + ln.Addr().String() }

// Serve serves h on ln until SIGINT or SIGTERM, then lets the requests in
// flight finish (for up to 5 s).
func Serve(ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shut)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// Segments splits a URL path into its segments, each unescaped on its
// own, so that a segment may hold an escaped slash (a list's name).
func Segments(escapedPath string) ([]string, error) {
	raw := strings.Split(strings.Trim(escapedPath, "/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		v, err := url.PathUnescape(r)
		if err != nil {
			return nil, fmt.Errorf("path segment %d: %w", i+1, err)
		}
		segs[i] = v
	}
	return segs, nil
}

// Match matches path segments against a template such as
// /crm/v3/lists/{listId}: a segment in braces takes any non-empty segment
// that accept (nil: any) allows, returned by name.
func Match(template string, segs []string, accept func(name, segment string) bool) (map[string]string, bool) {
	pat := strings.Split(strings.Trim(template, "/"), "/")
	if len(pat) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pat {
		if !strings.HasPrefix(p, "{") {
			if p != segs[i] {
				return nil, false
			}
			continue
		}
		name := strings.Trim(p, "{}")
		if segs[i] == "" || (accept != nil && !accept(name, segs[i])) {
			return nil, false
		}
		params[name] = segs[i]
	}
	return params, true
}

// Route finds, among n operations whose method and path template op
// gives, the first one a request's method and path segments match. When
// none does, known reports whether the path exists under another method
// (405 rather than 404).
func Route(n int, op func(i int) (method, template string), method string, segs []string, accept func(name, segment string) bool) (i int, params map[string]string, known bool) {
	for i := range n {
		m, tpl := op(i)
		p, ok := Match(tpl, segs, accept)
		if !ok {
			continue
		}
		known = true
		if m == method {
			return i, p, true
		}
	}
	return -1, nil, known
}

// Failures makes the next n requests fail with a status, then lets them
// through again (the fakes' Fail(status, n), which the conformance suite
// calls). Safe for concurrent use.
type Failures struct {
	mu     sync.Mutex
	status int
	n      int
}

// Set arms the next n requests (n ≤ 0: none) to fail with status.
func (f *Failures) Set(status, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.n = status, max(0, n)
}

// Next reports whether this request is to fail, and with which status.
func (f *Failures) Next() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return 0, false
	}
	f.n--
	return f.status, true
}

// PrintRequest is a fake's OnRequest hook for its command: a line per
// request on stdout, its time, method, endpoint (identifiers replaced)
// and status.
func PrintRequest(method, endpoint string, status int) {
	fmt.Printf("%s %s %s -> %d\n", time.Now().Format("15:04:05.000"), method, endpoint, status)
}
