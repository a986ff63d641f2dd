"""A logging proxy for the MongoDB wire protocol: every command's name, collection, size and
round trip, one JSON line each, for comparing what two clients send to one server.

  /usr/bin/python3 bench/io/command_log_proxy.py LISTEN_PORT SERVER_PORT OUT.jsonl

Listens on 127.0.0.1:LISTEN_PORT and forwards each connection to 127.0.0.1:SERVER_PORT (plain
TCP; not for TLS). For each OP_MSG request it appends {t, cmd, coll, bytes, ms} to OUT.jsonl;
for an `update` also the number of statements, the first one (cut at 3,000 characters) and the
command's other fields. Point a client at mongodb://127.0.0.1:LISTEN_PORT/ (the engine's
MONGO_URI, ha_best_client's --uri). It found that the engine's update commands grew slower over
a batch on FerretDB v1 while the best client's did not (docs/PERFORMANCE.md). pymongo's bson
(3.11 or 4.x) decodes the messages; stop it with Ctrl-C."""
import socket, threading, struct, sys, time, bson, json
LP, TP, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
f = open(OUT, 'a')
def recv_msg(s):
    h = b''
    while len(h) < 16:
        c = s.recv(16 - len(h))
        if not c: return None
        h += c
    ln = struct.unpack('<i', h[:4])[0]
    body = b''
    while len(body) < ln - 16:
        c = s.recv(ln - 16 - len(body))
        if not c: return None
        body += c
    return h + body
def parse(msg):
    op = struct.unpack('<i', msg[12:16])[0]
    if op != 2013: return {'op': op}
    flags = struct.unpack('<I', msg[16:20])[0]
    pos = 20; doc = None; seqs = {}
    end = len(msg) - (4 if flags & 1 else 0)
    while pos < end:
        kind = msg[pos]; pos += 1
        if kind == 0:
            l = struct.unpack('<i', msg[pos:pos+4])[0]; doc = bson.BSON(msg[pos:pos+l]).decode(); pos += l
        else:
            l = struct.unpack('<i', msg[pos:pos+4])[0]; sec = msg[pos+4:pos+l]; pos += l
            name_end = sec.index(b'\0'); name = sec[:name_end].decode(); docs = []; p = name_end + 1
            while p < len(sec):
                dl = struct.unpack('<i', sec[p:p+4])[0]; docs.append(bson.BSON(sec[p:p+dl]).decode()); p += dl
            seqs[name] = docs
    return {'doc': doc, 'seqs': seqs}
def handle(c):
    s = socket.create_connection(('127.0.0.1', TP))
    while True:
        m = recv_msg(c)
        if m is None: break
        t = time.time(); s.sendall(m); r = recv_msg(s); dt = time.time() - t
        if r is None: break
        c.sendall(r)
        p = parse(m); d = p.get('doc') or {}
        name = next(iter(d), '?')
        rec = {'t': t, 'cmd': name, 'coll': str(d.get(name)), 'bytes': len(m), 'ms': round(dt*1000, 1)}
        if name == 'update':
            ups = d.get('updates') or p['seqs'].get('updates') or []
            rec['n'] = len(ups); rec['first'] = str(ups[0])[:3000] if ups else None
            rec['other'] = {k: str(v) for k, v in d.items() if k not in ('updates',)}
        with lock:
            f.write(json.dumps(rec) + '\n'); f.flush()
    c.close(); s.close()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(('127.0.0.1', LP)); ls.listen(64)
while True:
    c, _ = ls.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
