'use strict';
let stream = null;
const ui = LiveSFU.page('publish', {
  startId: 'start',
  render: (st) => {
    const v = st.outbound.video || {}, a = st.outbound.audio || {};
    return [
      ['video codec', v.codec || '-'], ['resolution', v.frameWidth ? `${v.frameWidth}×${v.frameHeight}` : '-'],
      ['video bitrate', `${v.kbps || 0} kbps`], ['frames encoded', v.framesEncoded || 0],
      ['video packets sent', v.packets || 0], ['audio packets sent', a.packets || 0],
      ['limited by', v.qualityLimitationReason || '-'],
    ];
  },
  onStop: () => {
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    ui.$('preview').srcObject = null;
  },
});
const $ = ui.$;

async function start() {
  const room = $('room').value.trim();
  if (!room) { ui.setState('error', 'room is required'); return; }
  ui.state.error = null;
  ui.setState('starting');
  try {
    // ?width=&height= ask the camera for a capture size (Chromium sends three simulcast
    // layers only from 960x540 up).
    const w = Number(LiveSFU.params().get('width')), h = Number(LiveSFU.params().get('height'));
    const video = w > 0 && h > 0 ? { width: { ideal: w }, height: { ideal: h } } : true;
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    $('preview').srcObject = stream;
    ui.setState('connecting');
    ui.follow(await LiveSFU.publish(LiveSFU.endpoint('publish', room), stream,
      { token: $('token').value, codec: $('codec').value, simulcast: $('simulcast').checked,
        scalabilityMode: LiveSFU.params().get('scalability') || undefined }));
    const watch = new URL('player.html', location.href);
    watch.searchParams.set('room', room);
    const a = document.createElement('a');
    a.href = watch.toString();
    a.textContent = watch.toString();
    $('watch').replaceChildren('Watch: ', a);
  } catch (e) {
    await ui.failed('publish', e);
  }
}

if (LiveSFU.params().get('simulcast') === '1') $('simulcast').checked = true;
if (LiveSFU.params().get('codec')) $('codec').value = LiveSFU.params().get('codec').toLowerCase();
ui.boot(start);
