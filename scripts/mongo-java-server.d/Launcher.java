// mongo-java-server (in-memory backend) on a loopback port, for benchmarks (scripts/mongo-java-server).
//
//   java -cp 'lib/*:classes' Launcher HOST PORT DATA_DIR VERSION
//
// VERSION is the MongoDB version the server claims (3.6, 4.0 or 5.0). The data lives in the
// JVM's heap. So that a stopped server keeps its data as FerretDB does (and a stopped server's
// folder can be copied as a snapshot), a clean stop (SIGTERM or SIGINT) writes every database to
// DATA_DIR/<db>.bson and the next start loads those files back: per collection one header
// document {collection, indexes, count} and then its documents, all as plain BSON. A process
// that is killed (SIGKILL) loses what was written since it started.
//
// With -Dha.mjs.fastIn=true (scripts/mongo-java-server's default; HA_MJS_FAST_IN=0 turns it off)
// a find whose filter holds `field: {$in: [...]}` on a top-level field, with every listed value an
// ObjectId or a string, tests that field with a hash set instead of mongo-java-server's linear
// walk of the list (DefaultQueryMatcher compares each document with each listed value, so the
// engine's history read of 1,000 users cost documents x 1,000 comparisons). The result is the
// same: for those types the server's equality is equals(); any other document value (missing,
// array, embedded document) goes to the server's own matcher.
//
// With -Dha.mjs.fastSort=true (default; HA_MJS_FAST_SORT=0 turns it off) a sorted find extracts
// each matching document's sort values once, with the server's own Utils.getSubdocumentValue-
// CollectionAware, and sorts with the server's ValueComparator, the same stable sort: the same
// order. The server's DocumentComparator re-extracts both values at every comparison, splitting
// the key path with a regular expression each time; on the engine's poll (1.2 million matching
// documents sorted by {updatedAt, _id}) that was most of a 250 s batch.
//
// Always: replies are batched as MongoDB batches them. mongo-java-server answers a find without
// batchSize with every matching document in one reply (and a getMore without batchSize fails);
// libmongoc 1.23 does not forward the engine's batchSize option, so a find matching 2 million
// documents came back as one 71 MB message, which libmongoc refuses (above maxMessageSizeBytes,
// 48 MB). Here, as on MongoDB: a find without batchSize gets a first batch of 101 documents, and
// a getMore without batchSize gets batches of about 16 MiB. (Only commands from clients: the
// server's own scans, for deletes, updates, counts and aggregations, are untouched.)
//
// With -Dha.mjs.tlsCert=FILE and -Dha.mjs.tlsKey=FILE (PEM: the certificate chain, and an
// unencrypted PKCS#8 RSA or EC key as OpenSSL 3 writes it) the server accepts TLS connections
// only, as MongoDB with tlsMode=requireTLS does (mongo-java-server's enableSsl).
//
// Always: SASL PLAIN authentication (`saslStart` with mechanism PLAIN) succeeds in one step
// whatever the credentials, as it does on FerretDB's SQLite backend; mongo-java-server itself
// has no authentication and answers `no such command: 'saslStart'`. The integration tests put a
// password in MONGO_URI (authMechanism=PLAIN) to check that it never reaches any output, which
// needs a server that accepts the connection. Other mechanisms (SCRAM) still fail.
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

public final class Launcher {
    private static final String SUFFIX = ".bson";
    private static final int INSERT_CHUNK = 10_000;

    private static final boolean FAST_IN = Boolean.getBoolean("ha.mjs.fastIn");
    private static final boolean FAST_SORT = Boolean.getBoolean("ha.mjs.fastSort");
    // -Dha.mjs.save=false: a stop saves nothing (the demo's server, whose folder is removed).
    private static final boolean SAVE = !"false".equals(System.getProperty("ha.mjs.save"));

    /** A filter's `field: {$in: [ObjectId or string, ...]}` as a hash set, and the rest of it. */
    private static final class FastIn {
        static final FastIn NONE = new FastIn(null, null, null);
        final String field;
        final Set<Object> values;
        final Document rest;  // null: nothing else to match

        FastIn(String field, Set<Object> values, Document rest) {
            this.field = field;
            this.values = values;
            this.rest = rest;
        }

        static FastIn of(Document query) {
            for (Map.Entry<String, Object> e : query.entrySet()) {
                String field = e.getKey();
                if (field.startsWith("$") || field.contains(".") || !(e.getValue() instanceof Document)) {
                    continue;
                }
                Document cond = (Document) e.getValue();
                if (cond.size() != 1 || !(cond.get("$in") instanceof Collection)) {
                    continue;
                }
                Collection<?> list = (Collection<?>) cond.get("$in");
                if (list.isEmpty() || !list.stream().allMatch(v -> v instanceof ObjectId || v instanceof String)) {
                    continue;
                }
                Document rest = new Document();
                for (Map.Entry<String, Object> r : query.entrySet()) {
                    if (!r.getKey().equals(field)) {
                        rest.put(r.getKey(), r.getValue());
                    }
                }
                return new FastIn(field, new HashSet<>(list), rest.isEmpty() ? null : rest);
            }
            return NONE;
        }
    }

    private static final int DEFAULT_FIRST_BATCH = 101;
    private static final int MAX_BATCH_BYTES = 16 * 1024 * 1024;

    static final class FastCollection extends MemoryCollection {
        // The filter last prepared and its FastIn: a find tests every document against one filter.
        private Document lastQuery;
        private FastIn lastFastIn;

        FastCollection(MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursors) {
            super(database, name, options, cursors);
        }

        @Override
        protected boolean documentMatchesQuery(Document document, Document query) {
            if (!FAST_IN) {
                return super.documentMatchesQuery(document, query);
            }
            FastIn f;
            synchronized (this) {
                if (query != lastQuery) {
                    lastQuery = query;
                    lastFastIn = FastIn.of(query);
                }
                f = lastFastIn;
            }
            if (f == FastIn.NONE) {
                return super.documentMatchesQuery(document, query);
            }
            Object v = document.get(f.field);
            if (!(v instanceof ObjectId || v instanceof String)) {
                return super.documentMatchesQuery(document, query);  // missing, array, ...: the server decides
            }
            return f.values.contains(v) && (f.rest == null || super.documentMatchesQuery(document, f.rest));
        }

        @Override
        protected QueryResult matchDocumentsFromStream(Stream<Document> documents, Document query, Document orderBy,
                                                       int skip, int limit, int batchSize, Document fieldSelector) {
            if (!FAST_SORT || orderBy == null || orderBy.isEmpty() || orderBy.keySet().iterator().next().equals("$natural")) {
                return super.matchDocumentsFromStream(documents, query, orderBy, skip, limit, batchSize, fieldSelector);
            }
            String[] keys = orderBy.keySet().toArray(new String[0]);
            ValueComparator[] order = new ValueComparator[keys.length];
            for (int i = 0; i < keys.length; i++) {
                order[i] = ((Number) orderBy.get(keys[i])).intValue() > 0 ? ValueComparator.asc() : ValueComparator.desc();
            }
            Stream<Document> sorted = documents
                .filter(d -> documentMatchesQuery(d, query))
                .map(d -> {
                    Object[] row = new Object[keys.length + 1];
                    row[0] = d;
                    for (int i = 0; i < keys.length; i++) {
                        row[i + 1] = Utils.getSubdocumentValueCollectionAware(d, keys[i]);
                    }
                    return row;
                })
                .sorted((a, b) -> {
                    for (int i = 0; i < keys.length; i++) {
                        int c = order[i].compare(a[i + 1], b[i + 1]);
                        if (c != 0) {
                            return c;
                        }
                    }
                    return 0;
                })
                .map(row -> (Document) row[0]);
            // already filtered and sorted: the server's own skip, limit, projection and batching
            return super.matchDocumentsFromStream(new Document(), sorted, skip, limit, batchSize, null, fieldSelector);
        }
    }

    static final class FastDatabase extends MemoryDatabase {
        FastDatabase(String name, CursorRegistry cursors) {
            super(name, cursors);
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String name, CollectionOptions options) {
            return new FastCollection(this, name, options, cursorRegistry);
        }
    }

    /** The in-memory backend, written to DATA_DIR when it is closed (at a clean stop). */
    static final class PersistentMemoryBackend extends MemoryBackend {
        private final Path dir;
        // A channel for the commands the launcher sends itself (the backend keys per-connection
        // state by channel).
        private final EmbeddedChannel self = new EmbeddedChannel();

        PersistentMemoryBackend(Path dir) {
            this.dir = dir;
        }

        private Document command(String db, String name, Document body) {
            Document reply = handleCommand(self, db, name, body);
            Object ok = reply.get("ok");
            if (!(ok instanceof Number) || ((Number) ok).doubleValue() != 1.0 || reply.containsKey("writeErrors")) {
                throw new IllegalStateException(name + " on " + db + " failed: " + reply);
            }
            return reply;
        }

        @SuppressWarnings("unchecked")
        private static List<Document> firstBatch(Document reply) {
            return (List<Document>) ((Document) reply.get("cursor")).get("firstBatch");
        }

        @Override
        public Document handleCommand(Channel channel, String db, String command, Document query) {
            if (command.equalsIgnoreCase("saslStart") && "PLAIN".equals(query.get("mechanism"))) {
                Document reply = new Document("conversationId", 1);
                reply.put("done", Boolean.TRUE);
                reply.put("payload", new BinData(new byte[0]));
                reply.put("ok", 1.0);
                return reply;
            }
            if (command.equalsIgnoreCase("find") && !query.containsKey("batchSize")) {
                query.put("batchSize", DEFAULT_FIRST_BATCH);
            }
            return super.handleCommand(channel, db, command, query);
        }

        @Override
        protected Document handleGetMore(String db, String command, Document query) {
            if (query.containsKey("batchSize")) {
                return super.handleGetMore(db, command, query);
            }
            long id = ((Number) query.get(command)).longValue();
            Cursor cursor = getCursorRegistry().getCursor(id);
            List<Document> batch = new ArrayList<>();
            long bytes = 0;
            ByteBuf buf = Unpooled.buffer();
            try {
                while (!cursor.isEmpty() && bytes < MAX_BATCH_BYTES) {
                    for (Document d : cursor.takeDocuments(100)) {
                        buf.clear();
                        BsonEncoder.encodeDocument(d, buf);
                        bytes += buf.readableBytes();
                        batch.add(d);
                    }
                }
            } finally {
                buf.release();
            }
            if (cursor.isEmpty()) {
                getCursorRegistry().remove(cursor);
            }
            Document c = new Document("id", cursor.isEmpty() ? 0L : id);
            c.put("ns", db + "." + query.get("collection"));
            c.put("nextBatch", batch);
            Document reply = new Document("cursor", c);
            reply.put("ok", 1.0);
            return reply;
        }

        @Override
        public MemoryDatabase openOrCreateDatabase(String name) {
            return new FastDatabase(name, getCursorRegistry());
        }

        void load() throws IOException {
            if (!Files.isDirectory(dir)) {
                return;
            }
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(p -> p.getFileName().toString().endsWith(SUFFIX)).sorted().collect(Collectors.toList());
            }
            for (Path file : files) {
                String name = file.getFileName().toString();
                String db = name.substring(0, name.length() - SUFFIX.length());
                long t = System.nanoTime(), docs = 0;
                try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 20))) {
                    Document header;
                    while ((header = read(in)) != null) {
                        String coll = (String) header.get("collection");
                        command(db, "create", new Document("create", coll));
                        @SuppressWarnings("unchecked")
                        List<Document> indexes = (List<Document>) header.get("indexes");
                        if (!indexes.isEmpty()) {
                            Document ci = new Document("createIndexes", coll);
                            ci.put("indexes", indexes);
                            command(db, "createIndexes", ci);
                        }
                        long count = ((Number) header.get("count")).longValue();
                        List<Document> chunk = new ArrayList<>(INSERT_CHUNK);
                        for (long i = 0; i < count; i++) {
                            Document d = read(in);
                            if (d == null) {
                                throw new EOFException(file + ": truncated in " + coll);
                            }
                            chunk.add(d);
                            if (chunk.size() == INSERT_CHUNK || i == count - 1) {
                                Document ins = new Document("insert", coll);
                                ins.put("documents", chunk);
                                ins.put("ordered", Boolean.TRUE);
                                command(db, "insert", ins);
                                chunk = new ArrayList<>(INSERT_CHUNK);
                            }
                        }
                        docs += count;
                    }
                }
                System.err.printf("loaded %s: %d documents in %.1f s%n", file, docs, (System.nanoTime() - t) / 1e9);
            }
        }

        @SuppressWarnings("unchecked")
        void dump() throws IOException {
            Files.createDirectories(dir);
            List<String> dbs = new ArrayList<>();
            for (Document d : (List<Document>) cast(command("admin", "listDatabases", new Document("listDatabases", 1)).get("databases"))) {
                dbs.add((String) d.get("name"));
            }
            // databases dropped since the last dump must not come back
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    String n = p.getFileName().toString();
                    if (n.endsWith(SUFFIX) && !dbs.contains(n.substring(0, n.length() - SUFFIX.length()))) {
                        Files.delete(p);
                    }
                }
            }
            for (String db : dbs) {
                long t = System.nanoTime(), docs = 0;
                Path file = dir.resolve(db + SUFFIX), tmp = dir.resolve(db + SUFFIX + ".tmp");
                try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                    for (Document c : firstBatch(command(db, "listCollections", new Document("listCollections", 1)))) {
                        String coll = (String) c.get("name");
                        if (coll.startsWith("system.")) {
                            continue;
                        }
                        List<Document> indexes = new ArrayList<>();
                        for (Document i : firstBatch(command(db, "listIndexes", new Document("listIndexes", coll)))) {
                            if (!"_id_".equals(i.get("name"))) {
                                indexes.add(i);
                            }
                        }
                        var collection = resolveDatabase(db).resolveCollection(coll, true);
                        List<Document> all = collection.queryAllAsStream().collect(Collectors.toList());
                        Document header = new Document("collection", coll);
                        header.put("indexes", indexes);
                        header.put("count", (long) all.size());
                        write(out, header);
                        for (Document d : all) {
                            write(out, d);
                        }
                        docs += all.size();
                    }
                }
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                System.err.printf("saved %s: %d documents in %.1f s%n", file, docs, (System.nanoTime() - t) / 1e9);
            }
        }

        @SuppressWarnings("unchecked")
        private static <T> T cast(Object o) {
            return (T) o;
        }

        @Override
        public void close() {
            try {
                if (SAVE) {
                    dump();
                }
            } catch (Exception e) {
                System.err.println("could not save the data: " + e);
                e.printStackTrace();
            }
            super.close();
        }
    }

    private static void write(OutputStream out, Document d) throws IOException {
        ByteBuf buf = Unpooled.buffer();
        try {
            BsonEncoder.encodeDocument(d, buf);
            buf.readBytes(out, buf.readableBytes());
        } finally {
            buf.release();
        }
    }

    /** One BSON document, or null at the end of the stream. */
    private static Document read(DataInputStream in) throws IOException {
        byte[] len = new byte[4];
        int n = in.readNBytes(len, 0, 4);
        if (n == 0) {
            return null;
        }
        if (n < 4) {
            throw new EOFException("truncated document length");
        }
        int size = (len[0] & 0xff) | (len[1] & 0xff) << 8 | (len[2] & 0xff) << 16 | (len[3] & 0xff) << 24;
        byte[] bytes = new byte[size];
        System.arraycopy(len, 0, bytes, 0, 4);
        in.readFully(bytes, 4, size - 4);
        return BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bytes));
    }

    /** TLS only, with the PEM certificate chain and PKCS#8 key of -Dha.mjs.tlsCert and -Dha.mjs.tlsKey. */
    private static void enableTls(MongoServer server, String certFile, String keyFile) throws Exception {
        List<X509Certificate> chain = new ArrayList<>();
        try (InputStream in = Files.newInputStream(Path.of(certFile))) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                chain.add((X509Certificate) c);
            }
        }
        String pem = Files.readString(Path.of(keyFile));
        int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----"), end = pem.indexOf("-----END PRIVATE KEY-----");
        if (chain.isEmpty() || begin < 0 || end < begin) {
            throw new IllegalArgumentException("TLS needs a PEM certificate in " + certFile
                + " and an unencrypted PKCS#8 key (BEGIN PRIVATE KEY) in " + keyFile);
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + 27, end));
        PrivateKey key;
        try {
            key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (InvalidKeySpecException notRsa) {
            key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
        }
        server.enableSsl(key, null, chain.toArray(new X509Certificate[0]));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Launcher HOST PORT DATA_DIR VERSION(3.6|4.0|5.0)");
            System.exit(2);
        }
        ServerVersion version;
        switch (args[3]) {
            case "3.6": version = ServerVersion.MONGO_3_6; break;
            case "4.0": version = ServerVersion.MONGO_4_0; break;
            case "5.0": version = ServerVersion.MONGO_5_0; break;
            default:
                System.err.println("VERSION must be 3.6, 4.0 or 5.0, not " + args[3]);
                System.exit(2);
                return;
        }
        PersistentMemoryBackend backend = new PersistentMemoryBackend(Path.of(args[2]));
        backend.version(version);
        backend.load();
        MongoServer server = new MongoServer(backend);
        // shutdownNow: stop listening, close the clients, stop the event loops, then close the
        // backend, which saves the data.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "shutdown"));
        String tlsCert = System.getProperty("ha.mjs.tlsCert", ""), tlsKey = System.getProperty("ha.mjs.tlsKey", "");
        if (!tlsCert.isEmpty()) {
            enableTls(server, tlsCert, tlsKey);
        }
        try {
            server.bind(args[0], Integer.parseInt(args[1]));
        } catch (Exception e) {
            // Netty's event-loop threads are not daemons: without an explicit exit a failed bind
            // (a port taken between scripts/mongo-java-server's check and this bind) leaves a JVM
            // that never listens, and the script waits for it. Exit, so the script sees the
            // message ("Address already in use") and retries on another port.
            System.err.println("cannot listen on " + args[0] + ":" + args[1] + ": " + e);
            Runtime.getRuntime().halt(1);
        }
        System.err.println("listening on " + args[0] + ":" + args[1] + " (mongo-java-server, in-memory backend, MongoDB "
            + args[3] + " wire protocol" + (FAST_IN ? ", hashed $in" : "") + (FAST_SORT ? ", sort keys extracted once" : "") + (tlsCert.isEmpty() ? "" : ", TLS only") + ")");
    }
}
