/// The directory's keys and the Lua scripts that change or read them, each one atomic and one
/// round trip. Times are Redis's own (`TIME`), so nodes' clocks need not agree.
///
/// - `livesfu:node:<id>`: hash `url`, `load`, `viewers`, `sig`; expires after the node TTL.
/// - `livesfu:nodes`: sorted set of node IDs, score = when the entry expires (ms); stale
///   members are pruned by every heartbeat and skipped by readers.
/// - `livesfu:room:<room>`: the node ID holding the room (its publisher); expires after the
///   TTL unless the holder refreshes it.
/// - `livesfu:rooms`: sorted set of room names, score = when the claim expires (ms).
/// - `livesfu:edges:<room>`: sorted set of the IDs of edges relaying the room, score = when
///   that edge's mention expires (ms); refreshed by each edge's heartbeat while it relays.
/// - `livesfu:views:<id>`: hash room → that node's viewers of it (`RoomViewers`), replaced
///   whole at each heartbeat (written to `livesfu:views:<id>:next`, then renamed); expires
///   after the node TTL.
///
/// Every read truncates nothing silently: a value longer than its bound comes back as an
/// empty string, which the reader refuses as garbage.
enum DirectoryScripts {
    static let prefix = "livesfu:"
    static let nodesIndex = prefix + "nodes"
    static let roomsIndex = prefix + "rooms"
    static func nodeKey(_ id: String) -> String { prefix + "node:" + id }
    static func roomKey(_ room: String) -> String { prefix + "room:" + room }
    static func edgesKey(_ room: String) -> String { prefix + "edges:" + room }
    static func viewsKey(_ id: String) -> String { prefix + "views:" + id }
    static func viewsStagingKey(_ id: String) -> String { viewsKey(id) + ":next" }

    /// Bound of a node ID read back (longer = garbage).
    static let maxIDBytes = ClusterSettings.maxNodeIDBytes
    /// Bound of a URL or a signature read back.
    static let maxFieldBytes = NodeURL.maxBytes

    private static let now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """

    /// KEYS: node key, nodes index. ARGV: id, url, load, viewers, ttl ms, signature.
    static let heartbeat = now + """

        redis.call('HSET', KEYS[1], 'url', ARGV[2], 'load', ARGV[3], 'viewers', ARGV[4], 'sig', ARGV[6])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        return 1
        """

    /// Claims or keeps rooms for a node. KEYS: rooms index, then one key per room. ARGV: node
    /// id, ttl ms, then the room names in KEYS' order. Returns per room `1` (this node holds
    /// it now) or the holder's ID (another node holds it; empty if that ID is over the bound).
    static let claim = now + """

        local out = {}
        for i = 2, #KEYS do
          local v = redis.call('GET', KEYS[i])
          if v and v ~= ARGV[1] then
            if string.len(v) > \(maxIDBytes) then v = '' end
            out[#out + 1] = v
          else
            redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[i + 1])
            out[#out + 1] = 1
          end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        return out
        """

    /// Lets go of rooms this node holds (and only those). KEYS: rooms index, room keys.
    /// ARGV: node id, room names. Returns how many were released.
    static let release = """
        local n = 0
        for i = 2, #KEYS do
          if redis.call('GET', KEYS[i]) == ARGV[1] then
            redis.call('DEL', KEYS[i])
            redis.call('ZREM', KEYS[1], ARGV[i])
            n = n + 1
          end
        end
        return n
        """

    /// Leaves the directory (graceful stop). KEYS: node key, nodes index. ARGV: id.
    static let leave = """
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return 1
        """

    /// Where a room is. KEYS: room key. ARGV: node key prefix. Returns nil (nobody holds
    /// it) or {holder id, url, load, viewers, sig}, each '' when missing or over its bound
    /// (a holder whose entry expired has url '').
    static let locate = """
        local id = redis.call('GET', KEYS[1])
        if not id then return nil end
        if string.len(id) > \(maxIDBytes) then return {'', '', '', '', ''} end
        local f = redis.call('HMGET', ARGV[1] .. id, 'url', 'load', 'viewers', 'sig')
        local out = {id}
        for i = 1, 4 do
          local v = f[i]
          if not v or string.len(v) > \(maxFieldBytes) then v = '' end
          out[#out + 1] = v
        end
        return out
        """

    /// An edge relays these rooms. KEYS: one edges key per room. ARGV: node id, ttl ms.
    static let carry = now + """

        for i = 1, #KEYS do
          redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
          redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
          redis.call('PEXPIRE', KEYS[i], ARGV[2])
        end
        return #KEYS
        """

    /// Writes one chunk of a node's per-room viewers. KEYS: staging key, views key. ARGV: ttl
    /// ms, first chunk (1/0), last chunk (1/0), then room, viewers pairs. The first chunk
    /// empties the staging key; the last moves it over the views key at once (or deletes the
    /// views key when the node has no room), so readers never see half a report.
    static let views = """
        if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
        if #ARGV > 3 then
          redis.call('HSET', KEYS[1], unpack(ARGV, 4))
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        if ARGV[3] == '1' then
          if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('RENAME', KEYS[1], KEYS[2])
            redis.call('PEXPIRE', KEYS[2], ARGV[1])
          else
            redis.call('DEL', KEYS[2])
          end
        end
        return 1
        """

    /// Who holds a room and which edges carry it. KEYS: room key, edges key. ARGV: node key
    /// prefix, max edges. Returns {holder, carriers}: holder is {} (nobody) or {id, url, load,
    /// viewers, sig}; carriers is those five fields per live edge, flattened (fields over
    /// their bound are '').
    static let route = now + """

        local function entry(id, out)
          if string.len(id) > \(maxIDBytes) then
            for i = 1, 5 do out[#out + 1] = '' end
            return
          end
          local f = redis.call('HMGET', ARGV[1] .. id, 'url', 'load', 'viewers', 'sig')
          out[#out + 1] = id
          for i = 1, 4 do
            local v = f[i]
            if not v or string.len(v) > \(maxFieldBytes) then v = '' end
            out[#out + 1] = v
          end
        end
        local holder = redis.call('GET', KEYS[1])
        local h = {}
        if holder then entry(holder, h) end
        local c = {}
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))) do
          if id ~= holder then entry(id, c) end
        end
        return {h, c}
        """

    /// Every live room and node, and the nodes' per-room viewers, bounded. KEYS: rooms index,
    /// nodes index. ARGV: room key prefix, node key prefix, max rooms, max nodes, views key
    /// prefix, max (room, node) pairs, most rooms one node may report. Returns {{room, holder}…,
    /// {id, url, load, viewers, sig}…, {room, node, viewers}…} flattened per item; a node
    /// whose views hold more rooms than it may report is skipped (garbage).
    static let listing = now + """

        local rooms = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
        local r = {}
        for _, name in ipairs(rooms) do
          if string.len(name) <= \(maxFieldBytes) then
            local holder = redis.call('GET', ARGV[1] .. name)
            if holder then
              if string.len(holder) > \(maxIDBytes) then holder = '' end
              r[#r + 1] = name
              r[#r + 1] = holder
            end
          end
        end
        local nodes = redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'LIMIT', 0, tonumber(ARGV[4]))
        local n = {}
        local v = {}
        local listed = 0
        for _, id in ipairs(nodes) do
          if string.len(id) <= \(maxIDBytes) then
            local f = redis.call('HMGET', ARGV[2] .. id, 'url', 'load', 'viewers', 'sig')
            if f[1] then
              n[#n + 1] = id
              for i = 1, 4 do
                local x = f[i]
                if not x or string.len(x) > \(maxFieldBytes) then x = '' end
                n[#n + 1] = x
              end
              local key = ARGV[5] .. id
              local size = redis.call('HLEN', key)
              if size > 0 and size <= tonumber(ARGV[7]) and listed < tonumber(ARGV[6]) then
                local h = redis.call('HGETALL', key)
                for i = 1, #h, 2 do
                  if listed < tonumber(ARGV[6]) and string.len(h[i]) <= \(RoomViewers.maxRoomBytes) and string.len(h[i + 1]) <= 12 then
                    v[#v + 1] = h[i]
                    v[#v + 1] = id
                    v[#v + 1] = h[i + 1]
                    listed = listed + 1
                  end
                end
              end
            end
          end
        end
        return {r, n, v}
        """
}
