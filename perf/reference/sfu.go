package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
)

const (
	sessionPrefix = "/api/session/"
	maxOfferBytes = 64 << 10
)

// server holds the rooms and the sessions (by the id in their Location).
type server struct {
	api         *webrtc.API
	pliInterval time.Duration

	mu       sync.Mutex
	rooms    map[string]*room
	sessions map[string]*session
}

// room has at most one publisher; its tracks are the slots viewers attach to.
type room struct {
	name string

	mu        sync.Mutex
	publisher *session // nil, or the publisher (possibly still negotiating)
	slots     []*slot
	viewers   int
}

// slot is one publisher track and the viewers' local tracks fed from it.
type slot struct {
	kind  webrtc.RTPCodecType
	mid   string
	codec webrtc.RTPCodecCapability
	recv  *webrtc.RTPReceiver
	pc    *webrtc.PeerConnection // the publisher's, for PLIs upstream

	ssrc    atomic.Uint32 // the publisher's SSRC, once its first packet arrived
	lastPLI atomic.Int64  // unix ns of the last PLI sent upstream
	// outs is replaced whole (copy on write) when a viewer joins or leaves,
	// so the read loop takes it without a lock.
	outs   atomic.Pointer[[]*webrtc.TrackLocalStaticRTP]
	outsMu sync.Mutex
}

type session struct {
	id        string
	room      *room
	publisher bool
	pc        *webrtc.PeerConnection
	attached  []attachment // a viewer's tracks, to detach on close
	closeOnce sync.Once
}

type attachment struct {
	slot  *slot
	track *webrtc.TrackLocalStaticRTP
}

func newServer(api *webrtc.API, pliInterval time.Duration) *server {
	return &server{
		api:         api,
		pliInterval: pliInterval,
		rooms:       map[string]*room{},
		sessions:    map[string]*session{},
	}
}

func (s *server) room(name string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[name]
	if r == nil {
		r = &room{name: name}
		s.rooms[name] = r
	}
	return r
}

// readOffer checks method, room name and content type and reads the SDP
// offer; on failure it has already answered the request.
func readOffer(w http.ResponseWriter, r *http.Request, prefix string) (roomName, offer string, ok bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return "", "", false
	}
	roomName = strings.TrimPrefix(r.URL.Path, prefix)
	if roomName == "" || strings.Contains(roomName, "/") {
		http.Error(w, "want /{room}", http.StatusNotFound)
		return "", "", false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		http.Error(w, "Content-Type must be application/sdp", http.StatusUnsupportedMediaType)
		return "", "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferBytes))
	if err != nil {
		http.Error(w, "offer too large or unreadable", http.StatusRequestEntityTooLarge)
		return "", "", false
	}
	return roomName, string(body), true
}

// handlePublish: POST /api/whip/publish/{room}.
func (s *server) handlePublish(w http.ResponseWriter, r *http.Request) {
	roomName, offer, ok := readOffer(w, r, "/api/whip/publish/")
	if !ok {
		return
	}
	rm := s.room(roomName)
	sess := &session{id: newID(), room: rm, publisher: true}

	rm.mu.Lock()
	if rm.publisher != nil {
		rm.mu.Unlock()
		http.Error(w, "room already has a publisher", http.StatusConflict)
		return
	}
	rm.publisher = sess // reserved while negotiating
	rm.mu.Unlock()

	answer, slots, err := s.negotiatePublisher(sess, offer)
	if err != nil {
		s.closeSession(sess)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rm.mu.Lock()
	if rm.publisher == sess { // not ended while negotiating
		rm.slots = slots
	}
	rm.mu.Unlock()
	s.register(sess)
	writeAnswer(w, sess, answer)
}

func (s *server) negotiatePublisher(sess *session, offer string) (string, []*slot, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", nil, err
	}
	sess.pc = pc
	var slotsMu sync.Mutex
	var slots []*slot
	pc.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		slotsMu.Lock()
		var sl *slot
		for _, candidate := range slots {
			if candidate.recv == recv {
				sl = candidate
			}
		}
		slotsMu.Unlock()
		if sl == nil {
			log.Printf("pion-sfu: room %s: track %s on no negotiated slot, dropped", sess.room.name, track.ID())
			return
		}
		if got := track.Codec().MimeType; !strings.EqualFold(got, sl.codec.MimeType) {
			log.Printf("pion-sfu: room %s: mid %s sends %s, viewers were offered %s", sess.room.name, sl.mid, got, sl.codec.MimeType)
		}
		sl.forward(track)
	})
	s.watch(sess)

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", nil, fmt.Errorf("bad offer: %v", err)
	}
	slotsMu.Lock()
	for _, t := range pc.GetTransceivers() {
		recv := t.Receiver()
		if recv == nil || t.Direction() != webrtc.RTPTransceiverDirectionRecvonly {
			continue
		}
		codec, ok := primaryCodec(recv.GetParameters().Codecs)
		if !ok {
			continue
		}
		slots = append(slots, &slot{kind: t.Kind(), mid: t.Mid(), codec: codec, recv: recv, pc: pc})
	}
	found := len(slots)
	slotsMu.Unlock()
	if found == 0 {
		return "", nil, errors.New("offer sends no audio or video we can take")
	}
	answer, err := answerComplete(pc)
	return answer, slots, err
}

// primaryCodec is the first negotiated media codec (not RTX, FEC or RED).
func primaryCodec(codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecCapability, bool) {
	for _, c := range codecs {
		mt := strings.ToLower(c.MimeType)
		if strings.HasSuffix(mt, "/rtx") || strings.HasSuffix(mt, "/ulpfec") || strings.HasSuffix(mt, "/red") {
			continue
		}
		return c.RTPCodecCapability, true
	}
	return webrtc.RTPCodecCapability{}, false
}

// forward is the fanout being compared: the publisher's read loop writes
// every packet to every viewer's TrackLocalStaticRTP in turn.
func (sl *slot) forward(track *webrtc.TrackRemote) {
	sl.ssrc.Store(uint32(track.SSRC()))
	buf := make([]byte, 1500)
	pkt := &rtp.Packet{}
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		outs := sl.outs.Load()
		if outs == nil {
			continue
		}
		for _, out := range *outs {
			_ = out.WriteRTP(pkt) // a closed viewer errs until it is detached
		}
	}
}

func (sl *slot) attach(t *webrtc.TrackLocalStaticRTP) {
	sl.outsMu.Lock()
	defer sl.outsMu.Unlock()
	var next []*webrtc.TrackLocalStaticRTP
	if cur := sl.outs.Load(); cur != nil {
		next = make([]*webrtc.TrackLocalStaticRTP, len(*cur), len(*cur)+1)
		copy(next, *cur)
	}
	next = append(next, t)
	sl.outs.Store(&next)
}

func (sl *slot) detach(t *webrtc.TrackLocalStaticRTP) {
	sl.outsMu.Lock()
	defer sl.outsMu.Unlock()
	cur := sl.outs.Load()
	if cur == nil {
		return
	}
	next := make([]*webrtc.TrackLocalStaticRTP, 0, len(*cur))
	for _, o := range *cur {
		if o != t {
			next = append(next, o)
		}
	}
	sl.outs.Store(&next)
}

// requestKeyframe sends a PLI to the publisher, at most once per interval.
func (sl *slot) requestKeyframe(interval time.Duration) {
	ssrc := sl.ssrc.Load()
	if ssrc == 0 {
		return
	}
	now := time.Now().UnixNano()
	last := sl.lastPLI.Load()
	if interval > 0 && now-last < int64(interval) {
		return
	}
	if !sl.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = sl.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// handlePlay: POST /api/whep/play/{room}.
func (s *server) handlePlay(w http.ResponseWriter, r *http.Request) {
	roomName, offer, ok := readOffer(w, r, "/api/whep/play/")
	if !ok {
		return
	}
	s.mu.Lock()
	rm := s.rooms[roomName] // a viewer does not create a room
	s.mu.Unlock()
	var slots []*slot
	if rm != nil {
		rm.mu.Lock()
		slots = rm.slots
		rm.mu.Unlock()
	}
	if len(slots) == 0 {
		http.Error(w, "no publisher in this room", http.StatusNotFound)
		return
	}

	sess := &session{id: newID(), room: rm}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sess.pc = pc
	s.watch(sess)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		s.closeSession(sess)
		http.Error(w, "bad offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, sl := range slots {
		track, err := webrtc.NewTrackLocalStaticRTP(sl.codec, sl.kind.String()+"-"+sl.mid, "room-"+roomName)
		if err != nil {
			s.closeSession(sess)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sender, err := pc.AddTrack(track)
		if err != nil {
			s.closeSession(sess)
			http.Error(w, "cannot send "+sl.kind.String()+": "+err.Error(), http.StatusBadRequest)
			return
		}
		go s.readViewerRTCP(sender, sl)
		sess.attached = append(sess.attached, attachment{slot: sl, track: track})
	}
	answer, err := answerComplete(pc)
	if err != nil {
		s.closeSession(sess)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, a := range sess.attached {
		a.slot.attach(a.track)
	}
	rm.mu.Lock()
	rm.viewers++
	rm.mu.Unlock()
	s.register(sess)
	writeAnswer(w, sess, answer)
}

// readViewerRTCP drains a viewer's RTCP (which also feeds the NACK responder
// and report interceptors) and turns PLI/FIR into a PLI upstream.
func (s *server) readViewerRTCP(sender *webrtc.RTPSender, sl *slot) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				sl.requestKeyframe(s.pliInterval)
			}
		}
	}
}

// answerComplete answers the offer and waits for ICE gathering to finish
// (no trickle): the answer carries every candidate.
func answerComplete(pc *webrtc.PeerConnection) (string, error) {
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("cannot answer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("cannot apply answer: %v", err)
	}
	<-gathered
	return pc.LocalDescription().SDP, nil
}

func writeAnswer(w http.ResponseWriter, sess *session, answer string) {
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", sessionPrefix+sess.id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// watch ends a session whose connection failed or closed.
func (s *server) watch(sess *session) {
	sess.pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		if state == webrtc.PeerConnectionStateFailed || state == webrtc.PeerConnectionStateClosed {
			go s.closeSession(sess)
		}
	})
}

func (s *server) register(sess *session) {
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
}

func (s *server) closeSession(sess *session) {
	sess.closeOnce.Do(func() {
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
		rm := sess.room
		rm.mu.Lock()
		if sess.publisher {
			if rm.publisher == sess {
				rm.publisher = nil
				rm.slots = nil
			}
		} else if len(sess.attached) > 0 {
			rm.viewers--
		}
		rm.mu.Unlock()
		for _, a := range sess.attached {
			a.slot.detach(a.track)
		}
		if sess.pc != nil {
			_ = sess.pc.Close()
		}
	})
}

// handleSession: DELETE /api/session/{id} ends the session at once.
func (s *server) handleSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodDelete {
		http.Error(w, "use DELETE", http.StatusMethodNotAllowed)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, sessionPrefix)
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	s.closeSession(sess)
	w.WriteHeader(http.StatusOK)
}

// handleRooms: GET /api/rooms, a JSON list of rooms with publisher and viewer count.
func (s *server) handleRooms(w http.ResponseWriter, r *http.Request) {
	type roomInfo struct {
		Room      string `json:"room"`
		Publisher bool   `json:"publisher"`
		Tracks    int    `json:"tracks"`
		Viewers   int    `json:"viewers"`
	}
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, rm := range s.rooms {
		rooms = append(rooms, rm)
	}
	s.mu.Unlock()
	out := make([]roomInfo, 0, len(rooms))
	for _, rm := range rooms {
		rm.mu.Lock()
		out = append(out, roomInfo{Room: rm.name, Publisher: rm.publisher != nil, Tracks: len(rm.slots), Viewers: rm.viewers})
		rm.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room < out[j].Room })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func newID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
