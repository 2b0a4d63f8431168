'use strict';
const $ = (id) => document.getElementById(id);
window.livesfuState = { page: 'index', rooms: [], error: null, updated: 0 };

// A link built with DOM calls: names from /api/rooms are text, never markup.
function anchor(className, href, text) {
  const a = document.createElement('a');
  a.className = className;
  a.href = href;
  a.textContent = text;
  return a;
}

function roomRow(r) {
  const tr = LiveSFU.row(['td', r.name], ['td', r.publisherState], ['td', r.tracks || '-'], ['td', r.viewers]);
  tr.dataset.room = r.name;
  const links = document.createElement('td');
  links.append(anchor('watch', link('player.html', r.name) + '&autostart=1', 'Watch'), ' ',
    anchor('publish', link('publish.html', r.name), 'Publish'));
  tr.append(links);
  return tr;
}

// /api/rooms: {"rooms": [...]}, a bare list, or {name: {...}}; tolerant of the details.
function normalize(data) {
  let items = [];
  if (data && !Array.isArray(data) && typeof data.rooms === 'object') data = data.rooms;
  if (Array.isArray(data)) items = data.map((r) => [r.name || r.room || r.id, r]);
  else if (data && typeof data === 'object') items = Object.entries(data);
  return items.filter(([n]) => n !== undefined).map(([name, r]) => {
    const p = r.publisher !== undefined ? r.publisher : r.publishing;
    const v = r.viewers !== undefined ? r.viewers : (r.subscribers !== undefined ? r.subscribers : 0);
    const tracks = r.tracks || (p && p.tracks) || [];
    return {
      name: String(name),
      live: !!p && !(typeof p === 'object' && ['closed', 'none'].includes(p.state)),
      publisherState: p && typeof p === 'object' ? (p.state || 'live') : (p ? 'live' : 'none'),
      viewers: typeof v === 'number' ? v : (Array.isArray(v) ? v.length : 0),
      tracks: Array.isArray(tracks) ? tracks.map((t) => (typeof t === 'string' ? t : `${t.kind || ''} ${t.codec || ''}`.trim())).join(', ') : '',
    };
  });
}

function link(page, room) {
  const u = new URL(page, location.href);
  u.searchParams.set('room', room);
  const server = LiveSFU.params().get('server');
  if (server) u.searchParams.set('server', server);
  return u.toString();
}

async function refresh() {
  try {
    const resp = await fetch(LiveSFU.serverBase() + '/api/rooms', { cache: 'no-store' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const rooms = normalize(await resp.json());
    window.livesfuState.rooms = rooms;
    window.livesfuState.error = null;
    window.livesfuState.updated += 1;
    $('status').textContent = rooms.length ? `${rooms.length} room(s)` : 'No live rooms.';
    $('rooms').hidden = rooms.length === 0;
    $('rooms').tBodies[0].replaceChildren(...rooms.map(roomRow));
  } catch (e) {
    window.livesfuState.error = e.message;
    $('status').textContent = 'Cannot list rooms: ' + e.message;
  }
}

$('go').addEventListener('submit', (e) => e.preventDefault());
$('publish').addEventListener('click', () => { if ($('room').value) location.href = link('publish.html', $('room').value); });
$('watch').addEventListener('click', () => { if ($('room').value) location.href = link('player.html', $('room').value); });
refresh();
setInterval(refresh, 2000);
