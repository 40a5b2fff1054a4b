package pgtest

import (
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Proxy passes connections to the test server through a Unix socket of
// its own, and can cut them: while cut, it closes every connection it
// passes and every new one, as a server gone away or a network cut would.
// DSN reaches the server through it.
type Proxy struct {
	DSN string

	network, upstream string // the server's address: "unix" path or "tcp" host:port

	mu      sync.Mutex
	down    bool
	refused int
	conns   map[net.Conn]bool
}

// NewProxy starts a proxy to the server of dsn, closed when t ends.
func NewProxy(t testing.TB, dsn string) *Proxy {
	t.Helper()
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	port := strconv.Itoa(int(pc.Port))
	p := &Proxy{conns: map[net.Conn]bool{}, network: "tcp", upstream: net.JoinHostPort(pc.Host, port)}
	if strings.HasPrefix(pc.Host, "/") {
		p.network, p.upstream = "unix", filepath.Join(pc.Host, ".s.PGSQL."+port)
	}
	// Clients find a server's socket as .s.PGSQL.<port> in its host.
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	p.DSN = WithParam(WithParam(dsn, "host", dir), "port", "5432")
	go p.serve(ln)
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pass(conn)
	}
}

// pass joins conn to a new connection to the server, unless cut.
func (p *Proxy) pass(conn net.Conn) {
	p.mu.Lock()
	if p.down {
		p.refused++
		p.mu.Unlock()
		conn.Close()
		return
	}
	up, err := net.Dial(p.network, p.upstream)
	if err != nil {
		p.mu.Unlock()
		conn.Close()
		return
	}
	p.conns[conn], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	delete(p.conns, conn)
	delete(p.conns, up)
	p.mu.Unlock()
	conn.Close()
	up.Close()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets new connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Refused is how many connections it closed at once while cut.
func (p *Proxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}
