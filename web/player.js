'use strict';
const ui = LiveSFU.page('player', {
  startId: 'play',
  render: (st) => {
    const v = st.inbound.video || {}, a = st.inbound.audio || {};
    return [
      ['video codec', v.codec || '-'], ['resolution', v.frameWidth ? `${v.frameWidth}×${v.frameHeight}` : '-'],
      ['video bitrate', `${v.kbps || 0} kbps`], ['frames decoded', v.framesDecoded || 0],
      ['frames per second', v.framesPerSecond || 0], ['video packets lost', v.packetsLost || 0],
      ['NACKs sent', v.nackCount || 0], ['audio codec', a.codec || '-'], ['audio packets', a.packets || 0],
      ['audio bitrate', `${a.kbps || 0} kbps`],
    ];
  },
  onStop: () => { ui.$('remote').srcObject = null; },
});
const $ = ui.$;

// Simulcast: the room's layers (RIDs) from /api/rooms fill the quality menu; choosing one asks
// the server to move this viewer there (at that layer's next keyframe).
async function loadLayers(room) {
  try {
    const resp = await fetch(LiveSFU.serverBase() + '/api/rooms', { headers: $('token').value ? { Authorization: 'Bearer ' + $('token').value } : {} });
    const entry = ((await resp.json()).rooms || []).find((r) => r.name === room);
    const rids = ((entry && entry.tracks) || []).filter((t) => t.kind === 'video' && t.rid).map((t) => t.rid);
    const menu = $('quality');
    menu.replaceChildren(...['auto', ...rids].map((rid) => { const o = document.createElement('option'); o.value = o.textContent = rid; return o; }));
    menu.disabled = rids.length === 0;
  } catch (e) { /* no listing: the menu stays off */ }
}

$('quality').addEventListener('change', async () => {
  if (!window.livesfuSession) return;
  try {
    ui.state.layer = await LiveSFU.selectLayer(window.livesfuSession, $('quality').value);
  } catch (e) {
    ui.setState(ui.state.state, e.message);
  }
});

async function play() {
  const room = $('room').value.trim();
  if (!room) { ui.setState('error', 'room is required'); return; }
  ui.state.error = null;
  ui.setState('connecting');
  const media = new MediaStream();
  $('remote').srcObject = media;
  try {
    ui.follow(await LiveSFU.play(LiveSFU.endpoint('play', room), {
      token: $('token').value,
      onTrack: (ev) => {
        media.addTrack(ev.track);
        $('remote').play().catch(() => { $('remote').muted = true; $('remote').play().catch(() => {}); });
      },
    }));
    loadLayers(room);
  } catch (e) {
    await ui.failed('play', e);
  }
}

ui.boot(play);
