import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

/**
 * An in-memory MongoDB stand-in for Kilat's benchmarks and tests: mongo-java-server's memory
 * backend on the wire protocol. Nothing is persisted; stopping the process drops all data.
 *
 *   java -cp "<jars>:<this class>" Main <host> <port>
 *
 * Started and stopped by scripts/stand-ins/mongo-java-server.sh.
 */
public final class Main {

    /**
     * The version the server reports in its handshake. mongo-java-server's newest built-in
     * version (ServerVersion.MONGO_5_0) reports wire version 8, which the driver mongoose 9
     * bundles (mongodb 7.8) refuses: it needs at least 9 (MongoDB 4.4). Reporting exactly 4.4
     * keeps the driver from assuming features of later servers that the stand-in lacks.
     */
    private static final MongoVersion REPORTED = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: Main <host> <port>");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);

        MongoServer server = new MongoServer(new MemoryBackend().version(REPORTED));
        server.bind(host, port);
        // SIGTERM (the script's `down`) closes the listener and open connections cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "shutdown"));
        System.err.printf("mongo-java-server listening on %s:%d (reports MongoDB %s, wire version %d)%n",
                host, port, REPORTED.toVersionString(), REPORTED.getWireVersion());
        // bind() returns at once; Netty's non-daemon event-loop threads keep the JVM alive.
    }
}
