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
  } catch (e) {
    await ui.failed('play', e);
  }
}

ui.boot(play);
