'use strict';
// The recordings page: GET /api/records (with the token as a Bearer header when one is given)
// and a download link per file. Every value from the server is set with textContent or as an
// attribute, never as markup.
const $ = (id) => document.getElementById(id);
window.livesfuState = { page: 'records', records: [], error: null, updated: 0 };

function authHeaders() {
  const token = $('token').value;
  return token ? { Authorization: 'Bearer ' + token } : {};
}

function size(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(bytes) || 0, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
}

function duration(seconds) {
  const s = Number(seconds) || 0;
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${(s - m * 60).toFixed(1)} s` : `${s.toFixed(1)} s`;
}

function fileURL(name) {
  return LiveSFU.serverBase() + '/api/records/' + encodeURIComponent(name);
}

// Without a token a plain link downloads the file. With one, a link cannot send the
// Authorization header, so the file is fetched with it and saved from a blob.
async function download(e, r) {
  const headers = authHeaders();
  if (!headers.Authorization) return;
  e.preventDefault();
  try {
    const resp = await fetch(fileURL(r.name), { headers, cache: 'no-store' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const url = URL.createObjectURL(await resp.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = r.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    $('status').textContent = `Cannot download ${r.name}: ${err.message}`;
  }
}

function recordRow(r) {
  const state = r.state + (r.damage ? ` (${r.damage})` : '') + (r.error ? `: ${r.error}` : '');
  const tr = LiveSFU.row(['td', ''], ['td', r.room], ['td', `${r.kind} ${r.codec}`], ['td', state],
    ['td', size(r.bytes)], ['td', duration(r.durationSeconds)], ['td', String(r.startedAt || '').replace('T', ' ').replace(/\.\d+Z$/, '')]);
  tr.dataset.name = r.name;
  tr.cells[3].className = 'state-' + String(r.state);
  const cell = tr.cells[0];
  if (r.localFileDeleted) {
    cell.textContent = r.name;
    cell.title = r.objectKey ? `uploaded as ${r.objectKey}; the local file was deleted` : 'the local file was deleted';
  } else {
    const a = document.createElement('a');
    a.className = 'download';
    a.href = fileURL(r.name);
    a.setAttribute('download', r.name);
    a.textContent = r.name;
    a.addEventListener('click', (e) => download(e, r));
    cell.append(a);
  }
  return tr;
}

async function refresh() {
  try {
    const u = new URL(LiveSFU.serverBase() + '/api/records');
    const room = $('room').value.trim();
    if (room) u.searchParams.set('room', room);
    const resp = await fetch(u.toString(), { headers: authHeaders(), cache: 'no-store' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${(await resp.text()).trim().slice(0, 200)}`);
    const data = await resp.json();
    const records = Array.isArray(data.records) ? data.records : [];
    window.livesfuState.records = records;
    window.livesfuState.error = null;
    window.livesfuState.updated += 1;
    $('status').textContent = records.length
      ? `${records.length} recording(s)${data.truncated ? ' (the newest only)' : ''}` : 'No recordings.';
    $('records').hidden = records.length === 0;
    $('records').tBodies[0].replaceChildren(...records.map(recordRow));
  } catch (e) {
    window.livesfuState.error = e.message;
    $('status').textContent = 'Cannot list recordings: ' + e.message;
  }
}

const q = LiveSFU.params();
if (q.get('token')) $('token').value = q.get('token');
if (q.get('room')) $('room').value = q.get('room');
$('form').addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
refresh();
setInterval(refresh, 5000);
