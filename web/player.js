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
// the server to move this viewer there (at that layer's next keyframe). Temporal layers: the
// frame-rate menu is shown for video the server can cap at a temporal layer (`temporal_caps`
// in /api/rooms: VP8, VP9); choosing one caps this viewer there (`temporal=N`, or `auto`).
async function loadLayers(room) {
  try {
    const resp = await fetch(LiveSFU.serverBase() + '/api/rooms', { headers: $('token').value ? { Authorization: 'Bearer ' + $('token').value } : {} });
    const entry = ((await resp.json()).rooms || []).find((r) => r.name === room);
    const video = ((entry && entry.tracks) || []).filter((t) => t.kind === 'video');
    const rids = video.filter((t) => t.rid).map((t) => t.rid);
    const menu = $('quality');
    menu.replaceChildren(...['auto', ...rids].map((rid) => { const o = document.createElement('option'); o.value = o.textContent = rid; return o; }));
    menu.disabled = rids.length === 0;
    const caps = video.length > 0 && video.every((t) => t.temporal_caps);
    $('framerate').value = 'auto';
    $('framerate').disabled = !caps;
    $('framerate-label').hidden = !caps;
    ui.state.menus = { layers: rids, temporalCaps: caps };
  } catch (e) { /* no listing: the menus stay off */ }
}

// Sends one layer request from a menu; what the server answers is kept in the page's state.
function layerMenu(id, body, key) {
  $(id).addEventListener('change', async () => {
    if (!window.livesfuSession) return;
    try {
      ui.state[key] = (await LiveSFU.selectLayer(window.livesfuSession, body($(id).value))).trim();
    } catch (e) {
      ui.setState(ui.state.state, e.message);
    }
  });
}
layerMenu('quality', (v) => v, 'layer');
layerMenu('framerate', (v) => 'temporal=' + v, 'temporal');

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
