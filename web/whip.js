// livesfu WHIP/WHEP client (RFC 9725 and the WHEP draft), no build step, no dependencies.
//
// Non-trickle: the offer is sent once ICE gathering completes (or after a short wait, as
// it is), so no PATCH is needed. A 201 answer carries the SDP answer and the session's
// Location (possibly relative: resolved against the endpoint URL); DELETE on it ends the
// session, and is sent before the peer connection is closed.
(function (global) {
  'use strict';

  class WhipError extends Error {
    constructor(status, body) {
      super(`HTTP ${status}${body ? ': ' + body.trim().slice(0, 200) : ''}`);
      this.status = status;
    }
  }

  function params() {
    return new URLSearchParams(global.location.search);
  }

  // Whether `url` is on an origin the server allows besides the page's own (WEB_ALLOWED_SERVERS,
  // told by /web/livesfu-config.js as "scheme://host[:port]", port "*" for any).
  function allowedServer(url) {
    return (global.LIVESFU_ALLOWED_SERVERS || []).some((entry) => {
      if (entry.endsWith(':*')) {
        const u = new URL(entry.slice(0, -2));
        return u.protocol === url.protocol && u.hostname === url.hostname;
      }
      return new URL(entry).origin === url.origin;
    });
  }

  // Base URL of the server: the page's own origin, or ?server=... when it names the same
  // origin or an allowed one. A link must not send the camera and ?token= to any server it
  // names; the server's Content-Security-Policy (connect-src) enforces the same in the browser.
  function serverBase() {
    const s = params().get('server');
    if (!s) return global.location.origin;
    let url;
    try { url = new URL(s, global.location.href); } catch (e) { throw new Error('?server= is not a URL'); }
    if (url.origin !== global.location.origin && !allowedServer(url)) {
      throw new Error(`?server=${url.origin} is not allowed here (WEB_ALLOWED_SERVERS on the server lists the allowed ones)`);
    }
    return (url.origin + url.pathname).replace(/\/+$/, '');
  }

  function endpoint(kind, room) {
    const path = kind === 'publish' ? '/api/whip/publish/' : '/api/whep/play/';
    return serverBase() + path + encodeURIComponent(room);
  }

  function waitGatheringComplete(pc, timeoutMs) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, timeoutMs);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  function authHeaders(token) {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  // One WHIP or WHEP session over an RTCPeerConnection that already has its transceivers.
  class Session {
    constructor(pc, url, token) {
      this.pc = pc;
      this.url = url;
      this.token = token || '';
      this.location = null;
      this.etag = null;
    }

    async negotiate(gatherTimeoutMs = 3000) {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      await waitGatheringComplete(this.pc, gatherTimeoutMs);
      const resp = await fetch(this.url, {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/sdp' }, authHeaders(this.token)),
        body: this.pc.localDescription.sdp,
      });
      const body = await resp.text();
      if (resp.status !== 201) throw new WhipError(resp.status, body);
      const loc = resp.headers.get('Location');
      if (!loc) throw new WhipError(resp.status, '201 without a Location header');
      this.location = new URL(loc, this.url).toString();
      this.etag = resp.headers.get('ETag');
      await this.pc.setRemoteDescription({ type: 'answer', sdp: body });
      return this;
    }

    // DELETE the session (errors ignored: the server may be gone), then close the connection.
    async stop() {
      let status = null;
      if (this.location) {
        try {
          const resp = await fetch(this.location, { method: 'DELETE', headers: authHeaders(this.token) });
          status = resp.status;
        } catch (e) {
          status = 'error: ' + e.message;
        }
      }
      this.pc.close();
      return status;
    }
  }

  function newPeerConnection() {
    return new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
  }

  // Restricts a video transceiver to one codec (e.g. 'h264'), keeping RTX.
  function preferCodec(transceiver, kind, codec) {
    if (!codec || !RTCRtpSender.getCapabilities || !transceiver.setCodecPreferences) return false;
    const caps = RTCRtpSender.getCapabilities(kind).codecs;
    // H.264: most compatible first (packetization-mode=1, constrained baseline)
    const score = (c) => (/packetization-mode=1/.test(c.sdpFmtpLine || '') ? 0 : 2)
      + (/profile-level-id=42e01f/.test(c.sdpFmtpLine || '') ? 0 : 1);
    const want = caps.filter((c) => c.mimeType.toLowerCase() === `${kind}/${codec.toLowerCase()}`)
      .sort((a, b) => score(a) - score(b));
    if (!want.length) return false;
    const rtx = caps.filter((c) => c.mimeType.toLowerCase() === `${kind}/rtx`);
    transceiver.setCodecPreferences(want.concat(rtx));
    return true;
  }

  // Three simulcast layers, the full picture first (the server records the first, and starts
  // viewers on the layer with the highest bitrate).
  const SIMULCAST = [
    { rid: 'f' },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  ];

  async function publish(url, stream, opts = {}) {
    const pc = newPeerConnection();
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      // Each layer its own encoding; a scalability mode per layer (e.g. 'L1T3': temporal layers
      // in each) where asked for, and always for VP9 and AV1: without one Chromium (156) sends
      // VP9 on the first RID only (its older SVC mode) and nothing on the others.
      if (track.kind === 'video' && opts.simulcast) {
        const mode = opts.scalabilityMode || (/^(vp9|av1)$/i.test(opts.codec || '') ? 'L1T1' : undefined);
        init.sendEncodings = SIMULCAST.map((e) => (mode ? { ...e, scalabilityMode: mode } : e));
      }
      // One layer with temporal layers (e.g. 'L1T3'): viewers may be capped at a lower frame rate.
      else if (track.kind === 'video' && opts.scalabilityMode) init.sendEncodings = [{ scalabilityMode: opts.scalabilityMode }];
      const t = pc.addTransceiver(track, init);
      if (track.kind === 'video' && opts.codec) {
        if (!preferCodec(t, 'video', opts.codec)) throw new Error(`codec ${opts.codec} not available`);
      }
    }
    return new Session(pc, url, opts.token).negotiate();
  }

  // Simulcast: asks the server to move this viewer to a layer (a RID, or 'auto').
  async function selectLayer(session, layer) {
    const resp = await fetch(session.location + '/layer', {
      method: 'POST', headers: { ...authHeaders(session.token), 'Content-Type': 'text/plain' }, body: layer,
    });
    if (!resp.ok) throw new WhipError(resp.status, await resp.text());
    return resp.text();
  }

  async function play(url, opts = {}) {
    const pc = newPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    if (opts.onTrack) pc.addEventListener('track', opts.onTrack);
    return new Session(pc, url, opts.token).negotiate();
  }

  // Folds getStats() into plain figures; `prev` (the last result) gives bitrates.
  async function summarize(pc, prev) {
    const report = await pc.getStats();
    const now = performance.now();
    const codecs = {}, fmtps = {};
    report.forEach((s) => { if (s.type === 'codec') { codecs[s.id] = s.mimeType; fmtps[s.id] = s.sdpFmtpLine; } });
    const out = { at: now, inbound: {}, outbound: {}, bytes: {} };
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') return;
      const dir = s.type === 'inbound-rtp' ? 'inbound' : 'outbound';
      const bytes = dir === 'inbound' ? s.bytesReceived : s.bytesSent;
      const key = dir + '-' + s.kind;
      const agg = out[dir][s.kind] || (out[dir][s.kind] = { bytes: 0, packets: 0, ssrcs: 0 });
      agg.ssrcs += 1;
      agg.bytes += bytes || 0;
      agg.packets += (dir === 'inbound' ? s.packetsReceived : s.packetsSent) || 0;
      agg.codec = codecs[s.codecId] || agg.codec || null;
      agg.fmtp = fmtps[s.codecId] || agg.fmtp || null;
      for (const f of ['framesDecoded', 'framesEncoded', 'framesReceived', 'framesDropped', 'keyFramesDecoded',
        'frameWidth', 'frameHeight', 'framesPerSecond', 'packetsLost', 'nackCount', 'pliCount', 'firCount',
        'jitter', 'totalSamplesReceived', 'concealedSamples', 'retransmittedPacketsSent',
        'retransmittedPacketsReceived', 'qualityLimitationReason', 'encoderImplementation',
        'decoderImplementation', 'targetBitrate']) {
        if (s[f] !== undefined) {
          agg[f] = typeof s[f] === 'number' && typeof agg[f] === 'number' && !/frame(Width|Height)|Rate|Second|jitter/.test(f)
            ? agg[f] + s[f] : s[f];
        }
      }
      out.bytes[key] = agg.bytes;
    });
    for (const dir of ['inbound', 'outbound']) {
      for (const kind of Object.keys(out[dir])) {
        const key = dir + '-' + kind;
        const agg = out[dir][kind];
        agg.kbps = prev && prev.bytes[key] !== undefined && now > prev.at
          ? Math.round(((out.bytes[key] - prev.bytes[key]) * 8) / (now - prev.at)) : 0;
      }
    }
    return out;
  }

  // A table row of [tag, text] cells; text only, never markup (values come from the network).
  function row(...cells) {
    const tr = document.createElement('tr');
    for (const [tag, text] of cells) {
      const cell = document.createElement(tag);
      cell.textContent = String(text);
      tr.append(cell);
    }
    return tr;
  }

  // What publish.html and player.html share: the state they show and tests read over
  // DevTools (window.livesfuState: state, error, session URL, getStats() figures), their
  // start/stop buttons, following a session's connection state and stats, and stopping.
  // `startId`: the start button's id; `render(stats)` gives the stats table's rows;
  // `onStop()` releases what the page holds (camera, video elements).
  function page(name, { startId, render, onStop }) {
    const $ = (id) => document.getElementById(id);
    $('form').addEventListener('submit', (e) => e.preventDefault());
    const st = global.livesfuState = { page: name, state: 'idle', error: null, location: null, stats: null, events: [] };
    let session = null, timer = null;

    function setState(state, error) {
      st.state = state;
      if (error !== undefined) st.error = error;
      st.events.push(`${Math.round(performance.now())} ${state}${error ? ': ' + error : ''}`);
      $('state').textContent = state;
      $('state').className = 'state-' + state;
      $('error').textContent = st.error || '';
      $(startId).disabled = !['idle', 'stopped', 'failed', 'error'].includes(state);
      $('stop').disabled = $(startId).disabled === false;
    }

    function follow(s) {
      session = s;
      st.location = s.location;
      global.livesfuSession = s;
      const pc = s.pc;
      const onState = () => {
        st.pcState = pc.connectionState;
        if (pc.connectionState === 'connected') setState('connected');
        else if (pc.connectionState === 'failed') setState('failed', 'peer connection failed');
        else if (pc.connectionState === 'disconnected') setState('disconnected');
      };
      pc.addEventListener('connectionstatechange', onState);
      onState();
      let prev = null;
      timer = setInterval(async () => {
        if (!session) return;
        try {
          prev = st.stats = await summarize(pc, prev);
          $('stats').replaceChildren(...render(prev).map(([k, x]) => row(['th', k], ['td', x])));
        } catch (e) { /* closed */ }
      }, 1000);
    }

    async function stop(keepState) {
      clearInterval(timer);
      timer = null;
      if (session) {
        st.deleteStatus = await session.stop();
        session = null;
        global.livesfuSession = null;
      }
      onStop();
      if (!keepState) setState('stopped');
    }

    async function failed(what, e) {
      console.error(what + ' failed', e);
      await stop(true);
      setState('error', e.message || String(e));
    }

    // Wires the start button to `start`, fills room and token from the query, autostarts.
    function boot(start) {
      $(startId).addEventListener('click', start);
      const q = params();
      if (q.get('room')) $('room').value = q.get('room');
      if (q.get('token')) $('token').value = q.get('token');
      setState('idle');
      if (q.get('autostart') === '1') start();
    }

    global.livesfuStop = () => stop(false);
    $('stop').addEventListener('click', () => stop(false));
    global.addEventListener('pagehide', () => { if (session) session.stop(); });
    return { $, setState, follow, stop, failed, boot, state: st };
  }

  global.LiveSFU = {
    WhipError, Session, params, serverBase, endpoint, publish, play, selectLayer, summarize, preferCodec, page, row,
  };
})(window);
