package netns

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// The DNS forwarder relays the sandboxes' queries, unchanged, to the
// host's resolvers and their answers back: UDP datagram for datagram, TCP
// message for message. It parses nothing but the TCP length prefix, so
// it needs no DNS library and cannot be confused by a malformed query.
//
// Bounds: at most maxInflight UDP queries and maxTCP TCP connections at
// once (more are dropped: the sandbox's resolver retries), udpTimeout per
// resolver tried, tcpIdle without traffic on a TCP connection.
const (
	maxInflight = 256
	maxTCP      = 64
	udpTimeout  = 2 * time.Second
	tcpIdle     = 10 * time.Second
)

type forwarder struct {
	udp      net.PacketConn
	tcp      net.Listener
	upstream []string
	log      *slog.Logger
	sem      chan struct{}
	tcpSem   chan struct{}
	wg       sync.WaitGroup
}

func startForwarder(at netip.AddrPort, upstream []string, log *slog.Logger) (*forwarder, error) {
	if len(upstream) == 0 {
		return nil, errors.New("no resolvers to forward to")
	}
	pc, err := net.ListenPacket("udp", at.String())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", at.String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	f := &forwarder{udp: pc, tcp: ln, upstream: upstream, log: log,
		sem: make(chan struct{}, maxInflight), tcpSem: make(chan struct{}, maxTCP)}
	f.wg.Add(2)
	go f.serveUDP()
	go f.serveTCP()
	return f, nil
}

func (f *forwarder) close() {
	f.udp.Close()
	f.tcp.Close()
	f.wg.Wait()
}

func (f *forwarder) serveUDP() {
	defer f.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := f.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case f.sem <- struct{}{}:
		default:
			continue // too many in flight: the client retries
		}
		q := append([]byte(nil), buf[:n]...)
		f.wg.Add(1)
		go func() {
			defer func() { <-f.sem; f.wg.Done() }()
			if a := f.askUDP(q); a != nil {
				f.udp.WriteTo(a, from)
			}
		}()
	}
}

// askUDP asks each resolver in turn until one answers.
func (f *forwarder) askUDP(q []byte) []byte {
	buf := make([]byte, 64<<10)
	for _, up := range f.upstream {
		c, err := net.Dial("udp", up)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(udpTimeout))
		if _, err := c.Write(q); err == nil {
			n, err := c.Read(buf)
			c.Close()
			if err == nil {
				return buf[:n]
			}
			continue
		}
		c.Close()
	}
	return nil
}

func (f *forwarder) serveTCP() {
	defer f.wg.Done()
	for {
		c, err := f.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case f.tcpSem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		f.wg.Add(1)
		go func() {
			defer func() { <-f.tcpSem; f.wg.Done() }()
			defer c.Close()
			f.relayTCP(c)
		}()
	}
}

// relayTCP relays length-prefixed messages from the client to one
// resolver and the answers back, one at a time, until either side stops
// or is idle for tcpIdle.
func (f *forwarder) relayTCP(c net.Conn) {
	var up net.Conn
	for _, u := range f.upstream {
		var err error
		if up, err = net.DialTimeout("tcp", u, udpTimeout); err == nil {
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	for {
		c.SetDeadline(time.Now().Add(tcpIdle))
		up.SetDeadline(time.Now().Add(tcpIdle))
		q, err := readMsg(c)
		if err != nil {
			return
		}
		if _, err := up.Write(q); err != nil {
			return
		}
		a, err := readMsg(up)
		if err != nil {
			return
		}
		if _, err := c.Write(a); err != nil {
			return
		}
	}
}

// readMsg reads one DNS-over-TCP message with its length prefix.
func readMsg(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	m := make([]byte, 2+int(binary.BigEndian.Uint16(l[:])))
	copy(m, l[:])
	if _, err := io.ReadFull(r, m[2:]); err != nil {
		return nil, err
	}
	return m, nil
}

// hostResolvers reads the nameserver lines of a resolv.conf.
func hostResolvers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			out = append(out, fs[1])
		}
	}
	return out
}

// parseResolvers turns "ip" or "ip:port" into dial addresses (port 53 by
// default); no resolver at all means the host's own, 127.0.0.1:53, as
// for the C library.
func parseResolvers(rs []string) ([]string, []netip.Addr, error) {
	if len(rs) == 0 {
		rs = []string{"127.0.0.1"}
	}
	var addrs []string
	var ips []netip.Addr
	for _, r := range rs {
		ap, err := netip.ParseAddrPort(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				return nil, nil, fmt.Errorf("netns: resolver %q: want an IP address, optionally with a port", r)
			}
			ap = netip.AddrPortFrom(a, 53)
		}
		addrs = append(addrs, ap.String())
		ips = append(ips, ap.Addr())
	}
	return addrs, ips, nil
}
