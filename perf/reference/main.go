// Command pion-sfu is the comparison reference for livesfu's benchmarks: a
// minimal WHIP/WHEP forwarder on Pion WebRTC v3 with the fanout shape of the
// Go server livesfu replaces (one TrackLocalStaticRTP per viewer per
// publisher track, written from the publisher's OnTrack read loop).
//
// It is built from Debian's golang-github-pion-webrtc.v3-dev in GOPATH mode;
// see build.sh and README.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when -pprof is given (see below)
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:8090", "HTTP listen address (WHIP/WHEP API)")
	udpIP := flag.String("udp-ip", "127.0.0.1", "IPv4 address for media (the only host candidate)")
	udpPort := flag.Int("udp-port", 40000, "single UDP port shared by all sessions (ICE UDP mux); ignored with -udp-range")
	udpRange := flag.String("udp-range", "", "MIN-MAX: one UDP socket per session from this port range instead of the mux")
	noInterceptors := flag.Bool("no-interceptors", false, "skip Pion's default interceptors (NACK, RTCP reports, TWCC)")
	pliInterval := flag.Duration("pli-interval", 500*time.Millisecond, "forward at most one viewer PLI upstream per track per interval (0: every one)")
	pprof := flag.Bool("pprof", false, "serve Go's /debug/pprof/ on the HTTP address")
	flag.Parse()

	api, err := newAPI(*udpIP, *udpPort, *udpRange, !*noInterceptors)
	if err != nil {
		log.Fatalf("pion-sfu: %v", err)
	}
	srv := newServer(api, *pliInterval)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/api/whip/publish/", srv.handlePublish)
	mux.HandleFunc("/api/whep/play/", srv.handlePlay)
	mux.HandleFunc(sessionPrefix, srv.handleSession)
	mux.HandleFunc("/api/rooms", srv.handleRooms)
	if *pprof {
		mux.Handle("/debug/pprof/", http.DefaultServeMux)
	}

	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Fatalf("pion-sfu: listen %s: %v", *httpAddr, err)
	}
	media := fmt.Sprintf("udp %s:%d (mux)", *udpIP, *udpPort)
	if *udpRange != "" {
		media = fmt.Sprintf("udp %s ports %s (one per session)", *udpIP, *udpRange)
	}
	log.Printf("pion-sfu: http %s, %s, pid %d", ln.Addr(), media, os.Getpid())
	log.Fatal(http.Serve(ln, mux))
}

// newAPI builds the Pion API: default codecs, optionally the default
// interceptors, full ICE on IPv4 loopback only (or the address given), no
// mDNS, and either one shared UDP port or a range of ports.
func newAPI(ip string, port int, portRange string, interceptors bool) (*webrtc.API, error) {
	hostIP := net.ParseIP(ip).To4()
	if hostIP == nil {
		return nil, fmt.Errorf("-udp-ip %q is not an IPv4 address", ip)
	}

	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	if interceptors {
		if err := webrtc.RegisterDefaultInterceptors(me, registry); err != nil {
			return nil, err
		}
	}

	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(candidate net.IP) bool { return candidate.Equal(hostIP) })
	se.SetIncludeLoopbackCandidate(hostIP.IsLoopback())

	if portRange != "" {
		lo, hi, err := parseRange(portRange)
		if err != nil {
			return nil, err
		}
		if err := se.SetEphemeralUDPPortRange(lo, hi); err != nil {
			return nil, err
		}
	} else {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: hostIP, Port: port})
		if err != nil {
			return nil, fmt.Errorf("listen udp %s:%d: %w", ip, port, err)
		}
		// Room for bursts of many viewers' packets; the kernel caps it at
		// net.core.rmem_max/wmem_max.
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn}))
	}

	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(registry),
		webrtc.WithSettingEngine(se),
	), nil
}

func parseRange(s string) (uint16, uint16, error) {
	parts := strings.SplitN(s, "-", 2)
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("-udp-range %q: want MIN-MAX", s)
	}
	lo, err1 := strconv.ParseUint(parts[0], 10, 16)
	hi, err2 := strconv.ParseUint(parts[1], 10, 16)
	if err1 != nil || err2 != nil || lo == 0 || lo > hi {
		return 0, 0, fmt.Errorf("-udp-range %q: want MIN-MAX with 0 < MIN <= MAX < 65536", s)
	}
	return uint16(lo), uint16(hi), nil
}
